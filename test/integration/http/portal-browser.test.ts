// The portal in headless Chromium (Debian's `chromium` driven by playwright-core): both pages
// render live data, the cluster page refreshes itself, a dead owner degrades the guild page to
// a clear state. Screenshots go to test-output/.
import { mkdirSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPortalCluster, startEdgeHarness, type EdgeHarness, type PortalCluster } from './harness.js';
import { waitFor } from '../../helpers/services.js';

/** The part of playwright-core's API this test uses (it is loaded at run time, see below). */
interface Page {
  goto(url: string, o?: { waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' }): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
  locator(selector: string): { count(): Promise<number> };
  screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown>;
}
interface Browser {
  newPage(o?: { viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(o: { executablePath?: string; args?: string[]; headless?: boolean }): Promise<Browser> };
}

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const OUT = new URL('../../../test-output/', import.meta.url).pathname;

async function loadPlaywright(): Promise<Playwright> {
  // A variable specifier keeps TypeScript from resolving a package that may not be installed.
  const name = 'playwright-core';
  try {
    return (await import(name)) as Playwright;
  } catch (err) {
    throw new Error(
      `The portal browser test needs the npm package playwright-core (a devDependency; it drives Debian's chromium and downloads no browser). ` +
        `It is not installed: add it to package.json devDependencies and run npm install. (${String(err)})`,
    );
  }
}

let h: EdgeHarness;
let cluster: PortalCluster;
let browser: Browser;

beforeAll(async () => {
  const pw = await loadPlaywright();
  if (!CHROMIUM) throw new Error('No Chromium found: apt-get install -y chromium (or set CHROMIUM_PATH)');
  mkdirSync(OUT, { recursive: true });
  h = await startEdgeHarness();
  cluster = await seedPortalCluster(h);
  browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
});
afterAll(async () => {
  await browser?.close();
  for (const g of cluster?.gateways ?? []) await g.kill();
  await h?.close();
});

describe('the portal in a browser', () => {
  it('the cluster page shows each gateway with its guild count and a bar, moves, pins, cordons and unowned guilds', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${h.url}/`, { waitUntil: 'load' });
    const text = (await page.textContent('main')) ?? '';
    const counts = h.edge.routing.table.countsByOwner();
    for (const pod of ['gw-a', 'gw-b', 'gw-c']) expect(text).toContain(pod);
    expect(await page.locator('.bar i').count()).toBe(3);
    expect(text).toContain(`${[...counts.values()].reduce((a, b) => a + b, 0)}guilds owned`);
    expect(text).toContain('kernel upgrade');
    expect(text).toContain(cluster.guilds[5] as string); // pinned
    expect(text).toContain('handoff');
    expect(text).toContain('0.34 s');
    await page.screenshot({ path: `${OUT}portal-cluster.png`, fullPage: true });
  });

  it('the cluster page refreshes itself: a handoff shows up without a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${h.url}/`, { waitUntil: 'load' });
    const g = cluster.guilds[10] as string;
    const owner = h.edge.routing.table.lease(g)?.owner;
    const to = owner === 'gw-a' ? 'gw-b' : 'gw-a';
    const epoch = await h.lease(g, to);
    // Polled from here: the page's CSP forbids the eval a string predicate would need.
    await waitFor('the handoff on the page', async () => ((await page.textContent('main')) ?? '').replace(/\s+/g, ' ').includes(`${g} ${owner} → ${to}${epoch}`), 20_000, 200);
    expect(await page.textContent('#fresh')).toContain('live');
  });

  it("a guild page shows owner, epoch, since, data epoch, activity and open reports from the owner", async () => {
    const g = cluster.guilds[0] as string;
    const lease = h.edge.routing.table.lease(g);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${h.url}/guilds/${g}`, { waitUntil: 'load' });
    const text = (await page.textContent('main')) ?? '';
    expect(text).toContain(`owner${lease?.owner}`);
    expect(text).toContain(`epoch${lease?.epoch}`);
    expect(text).toMatch(/since\d+ s ago/);
    expect(text).toContain(`data epoch${lease?.epoch}`);
    expect(text).toContain('Open reports');
    expect(text).toContain('spam link <b>free nitro</b>'); // shown as text, not markup
    expect(text).toContain('#general');
    await page.screenshot({ path: `${OUT}portal-guild.png`, fullPage: true });
  });

  it('when the owner is gone, the guild page says so clearly and still shows the lease', async () => {
    await (cluster.gateways[2] as { kill(): Promise<void> }).kill(); // gw-c
    const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
    await page.goto(`${h.url}/guilds/${cluster.orphanGuild}`, { waitUntil: 'load' });
    const text = (await page.textContent('main')) ?? '';
    expect(text).toContain('Owner gw-c is unreachable.');
    expect(text).toContain('ownergw-c');
    await page.screenshot({ path: `${OUT}portal-guild-owner-gone.png`, fullPage: true });
    await page.goto(`${h.url}/`, { waitUntil: 'load' });
    expect(await page.textContent('main')).toContain('unreachable');
  });
});
