"""The browser suite needs a built book and Chromium: it runs only through `make browser` (ATTNVIZ_BROWSER=1)."""

import os

collect_ignore = [] if os.environ.get("ATTNVIZ_BROWSER") == "1" else ["browser"]
