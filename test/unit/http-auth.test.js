'use strict';
const assert = require('node:assert/strict');
const { parseChallenges, chooseAuth, digestAuthorization, basicAuthorization } = require('../../dist/core/capture/http-auth.js');

// RFC 7616 section 3.9.1: the worked example, with its published responses.
const RFC_CHALLENGE = (alg) => `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${alg}, ` +
  'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
const RFC_REQ = { method: 'GET', uri: '/dir/index.html', username: 'Mufasa', password: 'Circle of Life' };
const RFC_CNONCE = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';

describe('http-auth (Basic, Digest RFC 7616)', function () {
  it('reproduces RFC 7616\'s example responses for MD5 and SHA-256', function () {
    for (const [alg, response] of [['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
      ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1']]) {
      const choice = chooseAuth(parseChallenges([RFC_CHALLENGE(alg)]));
      assert.equal(choice.scheme, 'digest');
      const header = digestAuthorization(choice, RFC_REQ, RFC_CNONCE);
      assert.match(header, new RegExp(`response="${response}"`), alg);
      assert.match(header, /qop=auth, nc=00000001, cnonce="f2\/wE4q74E6zIJEtWaHKaf5wv\/H5QzzpXusqGemxURZJ"/);
      assert.match(header, /opaque="FQhe\/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"/);
      assert.match(header, new RegExp(`algorithm=${alg},`));
      // The next request on the same challenge counts up.
      assert.match(digestAuthorization(choice, RFC_REQ, RFC_CNONCE), /nc=00000002/);
    }
  });

  it('parses several challenges per header line, quoted values with escapes, and odd spacing', function () {
    const got = parseChallenges([
      'Basic realm="cam \\"1\\"", Digest realm=y,nonce="a,b" , qop="auth", Bearer',
      'Negotiate',
      'Digest   realm = "z" ,nonce=n2',
    ]);
    assert.deepEqual(got, [
      { scheme: 'basic', params: { realm: 'cam "1"' } },
      { scheme: 'digest', params: { realm: 'y', nonce: 'a,b', qop: 'auth' } },
      { scheme: 'bearer', params: {} },
      { scheme: 'negotiate', params: {} },
      { scheme: 'digest', params: { realm: 'z', nonce: 'n2' } },
    ]);
    assert.deepEqual(parseChallenges(['', '===', ' , ,']), []);
    assert.deepEqual(parseChallenges(['Digest nonce="unterminated']), [{ scheme: 'digest', params: { nonce: 'unterminated' } }]);
  });

  it('chooses the first supported Digest in the server\'s order, else Basic, else says what was offered', function () {
    const c = (s) => chooseAuth(parseChallenges([s]));
    assert.equal(c('Digest realm="r", nonce="n", algorithm=SHA-512-256, Digest realm="r", nonce="n", algorithm=MD5').algorithm, 'MD5');
    assert.equal(c('Digest realm="r", nonce="n", algorithm=SHA-256, Digest realm="r", nonce="n"').algorithm, 'SHA-256');
    assert.equal(c('Digest realm="r", nonce="n", qop="auth-int"').qop, 'auth-int');
    assert.equal(c('Digest realm="r", nonce="n"').qop, undefined, 'RFC 2069 form');
    assert.deepEqual(c('Digest realm="r", nonce="n", qop="weird", Basic realm="r"'), { scheme: 'basic' });
    assert.deepEqual(c('Digest realm="r"'), { unsupported: 'digest' }, 'no nonce');
    assert.deepEqual(chooseAuth([]), { unsupported: 'none' });
  });

  it('-sess, auth-int, no qop and userhash hash what the RFC says', function () {
    const { createHash } = require('node:crypto');
    const md5 = (s) => createHash('md5').update(s).digest('hex');
    const sha = (s) => createHash('sha256').update(s).digest('hex');
    const req = { method: 'GET', uri: '/v?x=1', username: 'u', password: 'p' };
    const field = (h, k) => new RegExp(`${k}="?([^",]*)`).exec(h)[1];

    const sess = chooseAuth(parseChallenges(['Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess']));
    let h = digestAuthorization(sess, req, 'c');
    const ha1 = md5(`${md5('u:r:p')}:n:c`);
    assert.equal(field(h, 'response'), md5(`${ha1}:n:00000001:c:auth:${md5('GET:/v?x=1')}`));

    const authInt = chooseAuth(parseChallenges(['Digest realm="r", nonce="n", qop="auth-int", algorithm=SHA-256']));
    h = digestAuthorization(authInt, req, 'c');
    assert.equal(field(h, 'response'), sha(`${sha('u:r:p')}:n:00000001:c:auth-int:${sha(`GET:/v?x=1:${sha('')}`)}`));

    const legacy = chooseAuth(parseChallenges(['Digest realm="r", nonce="n"']));
    h = digestAuthorization(legacy, req, 'c');
    assert.equal(field(h, 'response'), md5(`${md5('u:r:p')}:n:${md5('GET:/v?x=1')}`));
    assert.doesNotMatch(h, /qop|nc=|cnonce/);

    const uh = chooseAuth(parseChallenges(['Digest realm="r", nonce="n", qop=auth, userhash=true, algorithm=SHA-256']));
    h = digestAuthorization(uh, req, 'c');
    assert.equal(field(h, 'username'), sha('u:r'));
    assert.match(h, /userhash=true/);

    assert.equal(basicAuthorization('Aladdin', 'open sesame'), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    // Quotes and backslashes in a user name are escaped, not allowed to end the value.
    assert.match(digestAuthorization(legacy, { ...req, username: 'a"b\\c' }, 'c'), /username="a\\"b\\\\c"/);
  });
});
