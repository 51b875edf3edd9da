"""URL map of the desk."""

from __future__ import annotations

from aiohttp import web

from bot.desk import agent_views, health, help_pages, report_views, routing_views, views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", views.index)
    app.router.add_get("/login", views.login_page)
    app.router.add_post("/login", views.login)
    app.router.add_post("/logout", views.logout)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/api/me", views.me)
    app.router.add_get("/reports", report_views.reports_page)
    app.router.add_get("/api/reports", report_views.reports)
    app.router.add_get("/api/reports.csv", report_views.reports)
    app.router.add_post("/api/duty", views.duty)
    app.router.add_get("/api/agents", agent_views.agents)
    app.router.add_post("/api/agents", agent_views.add_agent)
    app.router.add_post("/api/agents/{name}", agent_views.change_agent)
    app.router.add_get("/api/routing", routing_views.routing)
    app.router.add_post("/api/routing", routing_views.change_routing)
    app.router.add_get("/api/queue", views.queue)
    app.router.add_get("/api/cases/{case_id}", views.case_view)
    app.router.add_get("/api/cases/{case_id}/canned", views.canned)
    app.router.add_post("/api/cases/{case_id}/file", views.send_file)
    app.router.add_post("/api/cases/{case_id}/typing", views.typing)
    app.router.add_post("/api/cases/{case_id}/{action}", views.act)
    app.router.add_get("/api/cases/{case_id}/export", views.export)
    app.router.add_get("/api/cases/{case_id}/attachments/{attachment_id:[0-9]{1,18}}", views.attachment)
    app.router.add_get("/ws", views.live)
    app.router.add_get("/help", help_pages.home)
    app.router.add_get("/help/", help_pages.home)
    app.router.add_get("/help/{language}", help_pages.with_slash)
    app.router.add_get("/help/{language}/", help_pages.index)
    app.router.add_get("/help/{language}/{article_id}", help_pages.article)
    app.router.add_static("/static/", views.STATIC)
