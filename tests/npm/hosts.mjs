// Resolves OPENKLING_TEST_HOST to 127.0.0.1, as an /etc/hosts line would: kling-api only
// talks HTTPS to public-looking names, so the test server gets a name of its own.
import dns from 'node:dns';

const NAME = process.env.OPENKLING_TEST_HOST;
const lookup = dns.lookup;

dns.lookup = function (hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (NAME && hostname === NAME) {
    if (options && options.all) {
      return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
    }
    return process.nextTick(callback, null, '127.0.0.1', 4);
  }
  return lookup.call(dns, hostname, options, callback);
};
