-- Sign-in with OpenID Connect: identities linked to accounts, and sign-ins in progress.
CREATE TABLE account_identity (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES account (account_id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX account_identity_account_idx ON account_identity (account_id);

-- one row per started sign-in; `state` is stored hashed and used once
CREATE TABLE oidc_flow (
    state_hash TEXT PRIMARY KEY NOT NULL,
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
