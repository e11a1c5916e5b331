// The ingest benchmark's baseline: a bare koa handler that parses the JSON body and answers 202, storing nothing.
import { createServer } from 'node:http';
import Koa from 'koa';

const app = new Koa();
app.use(async (ctx) => {
  const chunks: Buffer[] = [];
  for await (const c of ctx.req) chunks.push(c as Buffer);
  JSON.parse(Buffer.concat(chunks).toString('utf8'));
  ctx.status = 202;
  ctx.body = { ok: true };
});
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
