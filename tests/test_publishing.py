"""Publishing: the Pages workflow builds with the README's command and deploys _build/html, keeping the
execution cache; the site's address (html.baseurl) and its 404 page's prefix follow from repository.url.
The built site itself is checked under its sub-path by the browser suite (tests/browser/test_site.py)."""

from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
README = (ROOT / "README.md").read_text()


def _steps(job: str) -> list[dict]:
    return WORKFLOW["jobs"][job]["steps"]


def test_the_site_address_is_the_project_site_of_the_repository():
    owner, repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/").split("/")
    assert CONFIG["html"]["baseurl"] == f"https://{owner.lower()}.github.io/{repo}/"
    assert CONFIG["sphinx"]["config"]["notfound_urls_prefix"] == f"/{repo}/"


def test_the_workflow_publishes_main_with_the_readmes_build_command():
    triggers = WORKFLOW[True] if True in WORKFLOW else WORKFLOW["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == [CONFIG["repository"]["branch"]]
    runs = [s["run"] for s in _steps("build") if "run" in s]
    assert runs == ["make book"] and "make book" in README
    uses = {s["uses"].split("@")[0]: s for s in _steps("build") if "uses" in s}
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    assert uses["actions/cache"]["with"]["path"] == "_build/.jupyter_cache"  # the chapters' execution cache
    assert [s["uses"].split("@")[0] for s in _steps("deploy")] == ["actions/deploy-pages"]
    assert WORKFLOW["jobs"]["deploy"]["needs"] == "build"
    assert WORKFLOW["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
