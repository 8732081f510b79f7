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
  await customer.getByTestId('message-input').fill('Perfect, what would it cost?');
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
