"""Sphinx extension: write each inline script once.

Sphinx 7.2 to 8.2 emit an inline script twice when an extension registers it with
``app.add_js_file(None, body=...)`` after the builder is initialised (fixed upstream in
sphinx-doc/sphinx#13402; jupyter-book 1 requires Sphinx 7). ``Sphinx.add_js_file`` stores the
script on the builder as ``_JavaScript(None, ...)``; ``StandaloneHTMLBuilder.prepare_writing``
later re-adds every registered script as ``_JavaScript('', ...)``, and since ``None != ''`` the
duplicate check misses it. sphinx-thebe registers ``const THEBE_JS_URL = ...`` this way, so every
page declared that constant twice and the browser raised
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared``.

The fix gives those scripts the name ``''`` that ``prepare_writing`` will use, before it runs.
"""

from sphinx.builders.html._assets import _JavaScript


def _name_inline_scripts(app, env):
    scripts = getattr(app.builder, "_js_files", None)
    if scripts is not None:
        scripts[:] = [
            _JavaScript("", priority=s.priority, **s.attributes) if s.filename is None else s for s in scripts
        ]


def setup(app):
    app.connect("env-updated", _name_inline_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
