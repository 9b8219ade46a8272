"""New campaign: many targets ordered in one go (issue 12). Targets come from a CSV or GeoJSON file
or are drawn on the map (points, a line or a polygon tiled into scenes); every target is checked by
the same rules as a single task, feasibility is asked for all of them in one request, and the
campaign is created through the order journal, with a progress bar and a resume that sends only
what is missing. The page's work lives in ``ui.campaign_builder``."""

from __future__ import annotations

from ui.campaign_builder import render_builder
from ui.service import get_service

render_builder(get_service())
