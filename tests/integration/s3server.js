// A signature-checking S3 server on loopback for test_s3.sh:
//   node s3server.js MODULE_DIR DATA_DIR BUCKET
// Prints "PORT <n>" once listening on an ephemeral port. Credentials are
// s3rver's: S3RVER / S3RVER. (@20minutes/s3rver declares node >= 24 and
// has no bin script; it runs on Node 20 when started like this.)
'use strict';
const path = require('path');
const [moddir, dir, bucket] = process.argv.slice(2);
const S3rver = require(path.join(moddir, '@20minutes/s3rver/lib/s3rver'));
new S3rver({
  directory: dir,
  address: '127.0.0.1',
  port: 0,
  silent: true,
  configureBuckets: [{ name: bucket }],
}).run().then((addr) => {
  process.stdout.write(`PORT ${addr.port}\n`);
}, (e) => {
  process.stderr.write(`s3server: ${e.stack || e}\n`);
  process.exit(1);
});
