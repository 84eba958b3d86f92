"""The live dashboard in headless Chromium, against a real hub under load: its figures move, agree
with ``/metrics``, name the agencies as the registry writes them, and the trace box tells a sent
document's story. A screenshot is left in ``test-artifacts/dashboard.png``."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
from playwright.async_api import Browser, Page
from prometheus_client.parser import text_string_to_metric_families

from agency_client import AgencyClient
from tests.browser.conftest import ARTIFACTS
from tests.factories import make_envelope
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory

SEND_PAUSE_S = 0.05
WAIT_MS = 15_000


class Sender:
    """Documents sent without pause from one agency to the others, in the background."""

    def __init__(self, client: AgencyClient, recipients: list[str]) -> None:
        self.client = client
        self.recipients = recipients
        self.sent: list[UUID] = []

    async def run(self) -> None:
        organ = self.client.organ
        while True:
            to = self.recipients[len(self.sent) % len(self.recipients)]
            signed = await self.client.send(make_envelope(organ, [self.client.organ_of(to)]))
            self.sent.append(signed.model.id)
            await asyncio.sleep(SEND_PAUSE_S)


@contextlib.asynccontextmanager
async def sending(sender: Sender) -> AsyncIterator[Sender]:
    task = asyncio.create_task(sender.run(), name="test-sender")
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def metric_total(http: httpx.AsyncClient, sample: str) -> float:
    answer = await http.get("/metrics")
    answer.raise_for_status()
    for family in text_string_to_metric_families(answer.text):
        for found in family.samples:
            if found.name == sample and not found.labels:
                return found.value
    raise AssertionError(f"/metrics has no {sample}")


async def figure(page: Page, metric: str) -> str:
    value = await page.get_attribute(f"[data-metric='{metric}']", "data-value")
    assert value is not None, f"the page has no value for {metric}"
    return value


async def snapshots_shown(page: Page) -> int:
    return int(await page.get_attribute("body", "data-snapshots") or 0)


async def newer_snapshots(page: Page, count: int) -> None:
    """Wait until the page has shown ``count`` snapshots more than now."""
    seen = await snapshots_shown(page)
    await page.wait_for_function(
        f"Number(document.body.dataset.snapshots || 0) >= {seen + count}", timeout=WAIT_MS
    )


async def test_the_dashboard_follows_a_hub_under_load_and_agrees_with_the_metrics(
    browser: Browser,
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
) -> None:
    hub = await hub_factory(http_port=0, queue_watch_interval_s=1.0)
    assert hub.http_port is not None
    base = f"http://127.0.0.1:{hub.http_port}"
    sender_agency, recipients = agencies[0], agencies[1:3]
    client = await client_for(sender_agency)
    await probe.publish_ingress(b"not a signed document")  # one refusal, for the reasons table

    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as http,
        sending(Sender(client, [agency.id for agency in recipients])) as flow,
    ):
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(base + "/")
        await page.wait_for_selector("#connection[data-state='live']", timeout=WAIT_MS)
        assert await figure(page, "namespace") == hub.names.namespace

        # The figures move while documents flow, and each one lies between two scrapes of
        # /metrics: the one before the page's last two snapshots and the one right after.
        seen: list[int] = []
        for _ in range(4):
            before = await metric_total(http, "dochub_documents_total")
            await newer_snapshots(page, 2)
            shown = int(await figure(page, "totals.documents"))
            after = await metric_total(http, "dochub_documents_total")
            assert before <= shown <= after, (before, shown, after)
            seen.append(shown)
        assert seen == sorted(seen)
        assert seen[-1] > seen[0], f"the documents total did not move: {seen}"
        assert float(await figure(page, "rates.documents_per_s")) > 0

        # Agencies as the registry writes them, diacritics and all.
        senders = page.locator("#top-senders tr[data-agency]").first
        assert await senders.get_attribute("data-agency") == sender_agency.id
        assert sender_agency.name in await senders.inner_text()
        for recipient in recipients:
            row = page.locator(f"#top-recipients tr[data-agency='{recipient.id}']")
            assert recipient.name in await row.inner_text()

        # Refusals and queues: the garbage above is counted by its reason, and the recipients'
        # inboxes fill with nobody consuming them, which the page marks.
        await page.wait_for_selector("#refusals-by-reason [data-metric]", timeout=WAIT_MS)
        await page.wait_for_selector(
            f"#queues tr.stalled[data-queue='{hub.names.inbox_queue(recipients[0].id)}']",
            timeout=WAIT_MS,
        )
        await page.wait_for_selector("#health[data-value='true']", timeout=WAIT_MS)

        # One document's story from the trace box.
        traced = str(flow.sent[0])
        await page.fill("#trace-id", traced)
        await page.click("#trace-form button[type='submit']")
        await page.wait_for_selector("#trace-result[data-state='found']", timeout=WAIT_MS)
        assert await page.inner_text("#trace-result [data-field='document_id']") == traced
        sender_shown = await page.inner_text("#trace-result [data-field='sender']")
        assert sender_agency.name in sender_shown
        assert sender_agency.id in sender_shown
        deliveries = await page.inner_text("#trace-result table[data-part='deliveries']")
        assert recipients[0].name in deliveries
        timeline = page.locator("#trace-result table[data-part='timeline'] tbody tr")
        assert await timeline.count() >= 2  # accepted, then delivered

        # An unknown document says so, and so does an id that is none.
        await page.fill("#trace-id", "00000000-0000-4000-8000-000000000000")
        await page.click("#trace-form button[type='submit']")
        await page.wait_for_selector("#trace-result[data-state='not-found']", timeout=WAIT_MS)
        await page.fill("#trace-id", "not-a-document-id")
        await page.click("#trace-form button[type='submit']")
        await page.wait_for_selector("#trace-result[data-state='error']", timeout=WAIT_MS)

        await page.fill("#trace-id", traced)
        await page.click("#trace-form button[type='submit']")
        await page.wait_for_selector("#trace-result[data-state='found']", timeout=WAIT_MS)
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / "dashboard.png"
        await page.screenshot(path=screenshot, full_page=True)
        print(f"dashboard screenshot: {screenshot}")
        assert problems == []


async def test_the_dashboard_reads_in_english_and_vietnamese(
    browser: Browser, hub_factory: HubFactory
) -> None:
    hub = await hub_factory(http_port=0)
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{hub.http_port}/")
    await page.wait_for_selector("#connection[data-state='live']", timeout=WAIT_MS)
    heading = page.locator("[data-i18n='documents']").first
    assert await page.get_attribute("html", "lang") == "vi"
    assert await heading.inner_text() == "Văn bản"
    await page.click("#language")
    assert await page.get_attribute("html", "lang") == "en"
    assert await heading.inner_text() == "Documents"
    await page.reload()  # the choice is kept
    await page.wait_for_selector("#connection[data-state='live']", timeout=WAIT_MS)
    assert await heading.inner_text() == "Documents"


async def test_the_dashboard_reconnects_by_itself_when_the_hub_comes_back(
    browser: Browser, hub_factory: HubFactory
) -> None:
    first = await hub_factory(http_port=0)
    port = first.http_port
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{port}/")
    await page.wait_for_selector("#connection[data-state='live']", timeout=WAIT_MS)

    await first.stop()
    await page.wait_for_selector("#connection[data-state='reconnecting']", timeout=WAIT_MS)
    shown = await snapshots_shown(page)

    await hub_factory(http_port=port)  # the same hub, restarted, on the same port
    await page.wait_for_selector("#connection[data-state='live']", timeout=WAIT_MS)
    await newer_snapshots(page, 1)
    assert await snapshots_shown(page) > shown
