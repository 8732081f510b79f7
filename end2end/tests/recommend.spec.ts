import { expect, test } from '@playwright/test';
import { open } from './helpers';

test('a new visitor sees popular picks; after viewing listings the picks follow them, with the reason @phone', async ({ page }) => {
  await open(page, '/');
  const rail = page.getByTestId('rail-recommended');
  await expect(rail.getByRole('heading')).toHaveText('Popular with our customers');
  await expect(rail.getByTestId('product-card')).toHaveCount(8);
  await expect(rail.getByTestId('reason').first()).toHaveText('Popular right now');

  // two listings of one department, opened from a category page
  await open(page, '/search?category=/jewelry');
  const links = page.locator('main a[href^="/p/"]');
  const hrefs = [await links.nth(0).getAttribute('href'), await links.nth(2).getAttribute('href')];
  const titles: string[] = [];
  for (const href of hrefs) {
    const noted = page.waitForResponse((r) => r.url().includes('note_view') && r.ok());
    await open(page, href!);
    await noted;
    titles.push((await page.locator('h1').first().textContent())!.trim());
    // "similar items" of the listing, from the content model
    await expect(page.getByTestId('similar').getByTestId('product-card').first()).toBeVisible();
  }

  await open(page, '/');
  await expect(rail.getByRole('heading')).toHaveText('Recommended for you');
  await expect(rail.getByTestId('reason').first()).toContainText('Because you viewed');
  const reasons = await rail.getByTestId('reason').allTextContents();
  expect(reasons.some((r) => titles.some((t) => r === `Because you viewed \u201c${t}\u201d`))).toBeTruthy();
  // what was just viewed is not offered back
  for (const href of hrefs) {
    await expect(rail.locator(`a[href="${href}"]`)).toHaveCount(0);
  }
});
