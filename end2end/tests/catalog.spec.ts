import { expect, test } from '@playwright/test';
import { open, signIn } from './helpers';

// an 8x8 PNG, so the upload goes through the real type check, decoding and thumbnailing
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGM4UaGBFTEMLQkAUtVaAV8W4QQAAAAASUVORK5CYII=',
  'base64',
);


test('a dealer lists a customizable product; a customer finds it with a typo and prices the options', async ({ browser }) => {
  const word = `Quokka${Date.now() % 100000}`;
  const title = `${word} teak salad bowl`;

  // --- the dealer creates the listing with options and a picture, then publishes it
  const dealer = await browser.newPage();
  await signIn(dealer, 'dealer01@bespoke.test', 'bespoke-demo');
  await open(dealer, '/dealer');
  await dealer.getByTestId('new-listing').click();
  const form = dealer.getByTestId('listing-form');
  await form.getByLabel('Title').fill(title);
  await form.getByLabel('Description (Markdown: **bold**, lists, links)').fill('Carved from **reclaimed teak**.\n\n- oiled\n- food safe');
  await form.getByTestId('category').selectOption('/home/tableware');
  await form.getByLabel('Price (€)').fill('40');
  await form.getByLabel('Stock (empty = made to order)').fill('5');
  const first = form.getByTestId('option-row-0');
  await first.getByLabel('Option name').fill('Size');
  await first.getByLabel('Choices').fill('Small, Large +12.50');
  await form.getByTestId('add-option').click();
  const second = form.getByTestId('option-row-1');
  await expect(second).toBeVisible();
  await second.getByLabel('Option name').fill('Engraving');
  await second.getByLabel('Option kind').selectOption('text');
  await second.getByLabel('Text limit').fill('20');
  await second.getByLabel('Text surcharge').fill('7');
  await second.getByLabel('Optional').check();
  await form.getByRole('button', { name: 'Create draft' }).click();
  await expect(dealer.getByText('Listing created as a draft.')).toBeVisible();
  await expect(dealer.getByTestId('listing-status')).toHaveText('draft');

  // a wrong file is refused with a clear message; a real picture is accepted
  await dealer.getByTestId('image-input').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not really a picture') });
  await dealer.getByRole('button', { name: 'Upload' }).click();
  await expect(dealer.getByTestId('image-error')).toContainText('only PNG, JPEG and WebP');
  await dealer.getByTestId('image-input').setInputFiles({ name: 'bowl.png', mimeType: 'image/png', buffer: PNG });
  await dealer.getByRole('button', { name: 'Upload' }).click();
  await expect(dealer.getByText('Picture added.')).toBeVisible();
  await expect(dealer.getByTestId('pictures').locator('img')).toHaveCount(1);

  await dealer.getByRole('button', { name: 'publish', exact: true }).click();
  await expect(dealer.getByTestId('listing-status')).toHaveText('published');

  // --- a customer searches with a misspelling, filters, opens it and chooses options
  const customer = await browser.newPage();
  const typo = word.slice(0, 3) + word.slice(4); // one letter dropped
  await open(customer, '/search');
  await customer.getByRole('searchbox', { name: 'Search' }).fill(`${typo} bowl`);
  await customer.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(customer).toHaveURL(new RegExp(`q=${typo}`));
  const hit = customer.getByTestId('hit').filter({ hasText: title });
  await expect(hit).toHaveCount(1);
  // filters come from the facets, with counts; the listing stays through them, and the hydrated page
  // updates in place (a marker on window survives only if there is no full page load)
  await customer.evaluate(() => ((window as any).__marker = 'same page'));
  await customer.getByRole('link', { name: /^Customizable/ }).click();
  await expect(customer).toHaveURL(/customizable=1/);
  await expect(customer.getByTestId('hit').filter({ hasText: title })).toHaveCount(1);
  await customer.getByTestId('facet-category').filter({ hasText: 'Home & Living' }).click();
  await expect(customer).toHaveURL(/category=%2Fhome|category=\/home/);
  expect(await customer.evaluate(() => (window as any).__marker)).toBe('same page');
  await customer.getByTestId('hit').filter({ hasText: title }).click();

  await expect(customer.getByTestId('product-title')).toHaveText(title);
  await expect(customer.getByTestId('live-price')).toHaveText('€40.00');
  await customer.getByTestId('option-Size').selectOption({ label: 'Large (+€12.50)' });
  await expect(customer.getByTestId('live-price')).toHaveText('€52.50');
  await customer.getByTestId('option-Engraving').fill('For Ana');
  await expect(customer.getByTestId('live-price')).toHaveText('€59.50');
  await expect(customer.getByTestId('stock')).toHaveText('5 in stock');
  await expect(customer.getByTestId('description').locator('strong')).toHaveText('reclaimed teak');
  await expect(customer.getByTestId('main-image')).toHaveAttribute('src', /\/media\/products\//);
});

test('search suggestions appear while typing @phone', async ({ page }) => {
  await open(page, '/search');
  await page.getByRole('searchbox', { name: 'Search' }).pressSequentially('walnut bo', { delay: 30 });
  await expect(page.getByTestId('suggestions').locator('li').first()).toBeVisible();
});
