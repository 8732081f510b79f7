import { expect, Page, test } from '@playwright/test';
import { checkoutAndPay, open, signIn, signUp } from './helpers';

async function productOf(dealer: Page): Promise<{ slug: string; title: string }> {
  const store = (await (await dealer.request.get('/api/v1/dealer/store')).json()).store;
  const hit = (await (await dealer.request.get(`/api/v1/search?store=${store.slug}&per_page=5`)).json()).hits[0];
  return { slug: hit.slug, title: hit.title };
}

test('a customer and a dealer chat live, agree on a quote, and the customer pays for it', async ({ browser }) => {
  const stamp = Date.now() % 1_000_000;
  const buyer = `Robin Commissioner ${stamp}`;
  const dealerCtx = await browser.newContext();
  const dealer = await dealerCtx.newPage();
  await signIn(dealer, 'dealer05@bespoke.test', 'bespoke-demo');
  const p = await productOf(dealer);

  const customerCtx = await browser.newContext();
  const customer = await customerCtx.newPage();
  await signUp(customer, buyer, `robin${stamp}@example.com`, 'robin password 1');

  // --- the request, from the product page
  await open(customer, `/p/${p.slug}`);
  await customer.getByTestId('request-customization').click();
  await customer.getByTestId('request-text').fill(`Could you make this 40 cm wide, in walnut? (${stamp})`);
  await customer.getByTestId('request-budget').fill('150');
  await customer.getByRole('button', { name: 'Send request' }).click();
  await expect(customer).toHaveURL(/\/requests\//);
  await expect(customer.locator('body[data-hydrated]')).toBeAttached();
  await expect(customer.getByTestId('live-status')).toHaveText('● live');

  // --- the dealer finds it in the inbox and answers; the customer sees it live
  await open(dealer, '/dealer/requests');
  await dealer.getByTestId('request-row').filter({ hasText: String(stamp) }).click();
  await expect(dealer.getByTestId('live-status')).toHaveText('● live');
  await dealer.getByTestId('message-input').fill('Happy to — walnut, oiled finish.');
  await dealer.getByTestId('send').click();
  await expect(customer.getByTestId('messages')).toContainText('walnut, oiled finish');
  await customer.getByTestId('message-input').fill('Perfect, what would it cost? Call me on +353 87 555 0100 if easier.');
  await customer.getByTestId('send').click();
  await expect(dealer.getByTestId('messages')).toContainText('what would it cost');

  // --- the quote, accepted by the customer, lands in the cart at its price
  await dealer.getByTestId('quote-price').fill('135');
  await dealer.getByTestId('quote-spec').fill('Walnut, 40 cm, oiled');
  await dealer.getByRole('button', { name: 'Send quote' }).click();
  await expect(customer.getByTestId('quote-amount').last()).toHaveText('€135.00');
  await customer.getByTestId('accept-quote').click();
  await expect(customer.getByTestId('to-cart')).toBeVisible();
  await customer.getByTestId('to-cart').click();
  await expect(customer.getByTestId('cart-total')).toHaveText('€135.00');

  // --- checkout and the sandbox payment, as for any order
  await customer.getByTestId('go-checkout').click();
  await checkoutAndPay(customer, buyer);

  // --- the dealer sees the order
  await open(dealer, '/dealer/orders');
  await expect(dealer.getByTestId('order-row').filter({ hasText: buyer })).toHaveCount(1);
  await dealerCtx.close();
  await customerCtx.close();
});

// a valid 1×1 PNG (the server decodes what it receives)
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

test('a request from a store page with a reference image, a counter-offer and a second quote', async ({ browser }) => {
  const stamp = Date.now() % 1_000_000;
  const dealerCtx = await browser.newContext();
  const dealer = await dealerCtx.newPage();
  await signIn(dealer, 'dealer06@bespoke.test', 'bespoke-demo');
  const store = (await (await dealer.request.get('/api/v1/dealer/store')).json()).store;

  const customerCtx = await browser.newContext();
  const customer = await customerCtx.newPage();
  await signUp(customer, `Sam Patron ${stamp}`, `sam${stamp}@example.com`, 'sam password 1');

  // --- from the store page, with a reference image
  await open(customer, `/s/${store.slug}`);
  await customer.getByTestId('request-customization').click();
  await customer.getByTestId('request-text').fill(`A serving board with my initials (${stamp})`);
  await customer.getByTestId('request-images').setInputFiles({ name: 'sketch.png', mimeType: 'image/png', buffer: PNG });
  await customer.getByRole('button', { name: 'Send request' }).click();
  await expect(customer).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  await expect(customer.getByTestId('attachment')).toHaveCount(1);
  await expect(customer.getByTestId('live-status')).toHaveText('● live');

  // --- the dealer sees the image and sends one back through the thread's image form
  await open(dealer, '/dealer/requests');
  await dealer.getByTestId('request-row').filter({ hasText: String(stamp) }).click();
  await expect(dealer.getByTestId('attachment')).toHaveCount(1);
  await dealer.getByTestId('attach-input').setInputFiles({ name: 'proposal.png', mimeType: 'image/png', buffer: PNG });
  await dealer.getByTestId('attach-send').click();
  await expect(dealer.getByTestId('attachment')).toHaveCount(2);
  await expect(customer.getByTestId('attachment')).toHaveCount(2);
  await expect(dealer.getByTestId('live-status')).toHaveText('● live');

  // --- quote, counter-offer, second quote, accepted
  await dealer.getByTestId('quote-price').fill('200');
  await dealer.getByTestId('quote-spec').fill('Oak board, 50 cm, initials carved');
  await dealer.getByRole('button', { name: 'Send quote' }).click();
  await expect(customer.getByTestId('quote-amount').last()).toHaveText('€200.00');
  await customer.getByTestId('counter-quote').click();
  await customer.getByTestId('counter-price').fill('170');
  await customer.getByTestId('counter-note').fill('Would 170 work?');
  await customer.getByRole('button', { name: 'Send counter-offer' }).click();
  await expect(dealer.getByTestId('counter-amount')).toHaveText('€170.00');
  await expect(customer.getByTestId('quote-status').first()).toHaveText('declined');
  await dealer.getByTestId('quote-price').fill('180');
  await dealer.getByTestId('quote-spec').fill('Oak board, 50 cm, initials carved');
  await dealer.getByRole('button', { name: 'Send quote' }).click();
  await expect(customer.getByTestId('accept-quote')).toHaveCount(1);
  await customer.getByTestId('accept-quote').click();
  await customer.getByTestId('to-cart').click();
  await expect(customer.getByTestId('cart-total')).toHaveText('€180.00');
  await dealerCtx.close();
  await customerCtx.close();
});
