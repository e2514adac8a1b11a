// A real headless Chromium for the console's tests: playwright-core driving the binary that the
// @sparticuz/chromium package ships (extracted to /tmp on first use), plus axe-core and screenshots.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import chromium from '@sparticuz/chromium'
import { type Browser, type Page, chromium as playwright } from 'playwright-core'

/** Launches one browser (share it across a file's tests: a launch costs about a second). */
export async function launchBrowser(): Promise<Browser> {
  // --single-process (meant for AWS Lambda) ends the whole browser when one context closes.
  const args = chromium.args.filter((a) => a !== '--single-process')
  return playwright.launch({ executablePath: await chromium.executablePath(), args, headless: true })
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

export interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: number
}

/**
 * Runs axe-core on the page as it is (WCAG 2.1 A and AA rules) and returns the serious and critical
 * violations. It is evaluated through the DevTools protocol, so the page's CSP (no script) does not apply.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource)
  const result = (await page.evaluate(() =>
    // biome-ignore lint/suspicious/noExplicitAny: axe is the global the evaluated source defines
    (globalThis as any).axe.run((globalThis as any).document, {
      runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
    }),
  )) as { violations: { id: string; impact: string | null; help: string; nodes: unknown[] }[] }
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }))
}

/** Saves a screenshot to docs/images/ only when UPDATE_SCREENSHOTS=1 (test runs leave the tree clean). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return
  await page.screenshot({ path: join('docs', 'images', `${name}.png`), fullPage: true })
}
