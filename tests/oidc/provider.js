// A real OpenID provider for the single sign-on tests: oidc-provider with its development
// login form (any password), the campus people below, and one registered client, onetrip.
// Usage: node provider.js <port> <redirect_uri> ; prints "ready <issuer>" once it listens.
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

// login (the account id, so the subject) → what the campus directory says about them
const PEOPLE = {
  '2019010001': { preferred_username: 'zhangsan', name: '张三', department: '国资处' },
  '2019010002': { preferred_username: 'lisi', name: '李四', department: '图书馆' },
  '2019010003': { preferred_username: 'teacher1', name: '冒名者', department: '保卫处' },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'onetrip',
    client_secret: 'onetrip-test-client-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'department'],
    email: ['email'],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...(PEOPLE[id] || { name: id }) };
      },
    };
  },
  cookies: { keys: ['onetrip-test-provider-cookie-key'] },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
