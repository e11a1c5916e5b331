// The ingest benchmark's baselines: a bare koa handler that parses the JSON body and answers 202, storing nothing;
// with STORE_URL, the same handler first stores the report in PostgreSQL with one plain INSERT and commit, through a
// pool of 20 connections (what keeping each acknowledged webhook costs at the least, one transaction per report).
import { createServer } from 'node:http';
import Koa from 'koa';
import pg from 'pg';

const pool = process.env.STORE_URL ? new pg.Pool({ connectionString: process.env.STORE_URL, max: 20 }) : undefined;
await pool?.query('create table if not exists bare_reports (id bigserial primary key, body jsonb not null)');

const app = new Koa();
app.use(async (ctx) => {
  const chunks: Buffer[] = [];
  for await (const c of ctx.req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  JSON.parse(text);
  await pool?.query('insert into bare_reports (body) values ($1::jsonb)', [text]);
  ctx.status = 202;
  ctx.body = { ok: true };
});
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
