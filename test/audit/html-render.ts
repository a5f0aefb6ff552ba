import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's chromium (engines.sh installs it), headless, as FIELD-NOTES say to launch it here. */
export const CHROMIUM = '/usr/bin/chromium';

export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing in CI (scripts/engines.sh installs chromium)`);
  return `${CHROMIUM} is missing (scripts/engines.sh installs chromium)`;
}

export interface Rendered {
  summaryVisible: boolean;
  summaryText: string;
  /** Findings shown on the page. */
  findings: number;
  screenshot: Buffer;
}

/** Loads an HTML report from a file, as a person opening it would, and takes a screenshot. */
export async function renderInChromium(file: string): Promise<Rendered> {
  const profile = await mkdtemp(join(tmpdir(), 'dw-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    // Standalone: the page may load nothing but itself.
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    const summary = page.locator('#summary');
    const rendered: Rendered = {
      summaryVisible: await summary.isVisible(),
      summaryText: await summary.innerText(),
      findings: await page.locator('details.f').count(),
      screenshot: await page.screenshot({ fullPage: true }),
    };
    if (requests.some((u) => u !== `file://${file}`)) throw new Error(`the report loaded other resources: ${requests.join(', ')}`);
    return rendered;
  } finally {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  }
}
