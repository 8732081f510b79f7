// A real OpenID Connect provider (npm `oidc-provider`) for the integration tests: started by
// server/tests/api/oidc.rs as `node provider.mjs <port> <redirect uri>`; people sign in through its
// development login form with their login name (any password).
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const people = {
  alice: { email: 'alice@idp.test', email_verified: true, name: 'Alice from the IdP' },
  bob: { email: 'bob@idp.test', email_verified: false, name: 'Bob Unverified' },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bespoke',
    client_secret: 'bespoke-test-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  async findAccount(ctx, id) {
    const p = people[id] ?? { email: `${id}@idp.test`, email_verified: true, name: id };
    return { accountId: id, async claims() { return { sub: `sub-${id}`, ...p }; } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  pkce: { required: () => true },
  cookies: { keys: ['a test-only cookie key'] },
  features: { devInteractions: { enabled: true } },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
