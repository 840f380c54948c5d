// A tiny static HTTP server with byte ranges for test_s3.sh (python's
// http.server has none):  node httpserver.js DIR
// Prints "PORT <n>". Paths:
//   /f/NAME        the file, Accept-Ranges: bytes, Range: bytes=a-b / a-
//   /norange/NAME  the file, ranges ignored (200, no Accept-Ranges)
//   /redirect/NAME 302 to /f/NAME
//   /flaky/NAME    503 on every other request, else as /f/
//   /status/CODE   that status with a small body
//   /nohead/NAME   405 to HEAD, else as /f/
//   /cut/NAME      as /f/, but every response stops after 64 KiB (the
//                  connection is dropped: clients must resume)
//   /die/NAME      as /f/, but the server exits after sending 64 KiB
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
let flip = 0;
const srv = http.createServer((req, res) => {
  const m = /^\/([a-z]+)\/(.*)$/.exec(req.url);
  if (!m) { res.writeHead(404); return res.end('no'); }
  const [, kind, rest] = m;
  if (kind === 'status') { res.writeHead(Number(rest)); return res.end('status ' + rest + '\n'); }
  if (kind === 'redirect') { res.writeHead(302, { Location: '/f/' + rest }); return res.end(); }
  if (kind === 'nohead' && req.method === 'HEAD') { res.writeHead(405); return res.end(); }
  if (kind === 'flaky' && (flip++ % 2) === 0) { res.writeHead(503); return res.end('busy'); }
  const file = path.join(dir, path.basename(decodeURIComponent(rest)));
  let st;
  try { st = fs.statSync(file); } catch (e) { res.writeHead(404); return res.end('not found\n'); }
  const ranged = kind !== 'norange';
  const hdr = { 'Content-Type': 'application/octet-stream' };
  if (ranged) hdr['Accept-Ranges'] = 'bytes';
  const r = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
  if (ranged && r) {
    const a = Number(r[1]);
    const b = r[2] === '' ? st.size - 1 : Math.min(Number(r[2]), st.size - 1);
    if (a >= st.size) {
      hdr['Content-Range'] = `bytes */${st.size}`;
      res.writeHead(416, hdr); return res.end();
    }
    hdr['Content-Range'] = `bytes ${a}-${b}/${st.size}`;
    hdr['Content-Length'] = b - a + 1;
    res.writeHead(206, hdr);
    if (req.method === 'HEAD') return res.end();
    return send(res, kind, file, a, b);
  }
  hdr['Content-Length'] = st.size;
  res.writeHead(200, hdr);
  if (req.method === 'HEAD') return res.end();
  send(res, kind, file, 0, st.size - 1);
});

function send(res, kind, file, a, b) {
  if (kind !== 'cut' && kind !== 'die' || b - a + 1 <= 65536)
    return fs.createReadStream(file, { start: a, end: b }).pipe(res);
  const head = fs.readFileSync(file).subarray(a, a + 65536);
  res.write(head, () => {
    if (kind === 'die') process.exit(0);
    res.socket.destroy();
  });
}
srv.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${srv.address().port}\n`);
});
