import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The protobuf messages and gRPC service definitions that @eventstore/db-client ships under
 * `generated/`, loaded from the client's own location so the fake server builds messages with the very
 * classes (and google-protobuf instance) the client deserialises with.
 */
const here = createRequire(import.meta.url);
const clientDir = path.dirname(path.dirname(here.resolve('@eventstore/db-client')));
const load = createRequire(path.join(clientDir, 'generated', 'fake-esdb-anchor.js'));

export const streamsPb = load('./streams_pb.js') as typeof import('@eventstore/db-client/generated/streams_pb.js');
export const streamsGrpc = load('./streams_grpc_pb.js') as typeof import('@eventstore/db-client/generated/streams_grpc_pb.js');
export const sharedPb = load('./shared_pb.js') as typeof import('@eventstore/db-client/generated/shared_pb.js');
export const statusPb = load('./status_pb.js') as typeof import('@eventstore/db-client/generated/status_pb.js');
export const featuresPb = load('./serverfeatures_pb.js') as typeof import('@eventstore/db-client/generated/serverfeatures_pb.js');
export const featuresGrpc = load('./serverfeatures_grpc_pb.js') as typeof import('@eventstore/db-client/generated/serverfeatures_grpc_pb.js');
export const anyPb = load('google-protobuf/google/protobuf/any_pb.js') as typeof import('google-protobuf/google/protobuf/any_pb.js');
export const emptyPb = load('google-protobuf/google/protobuf/empty_pb.js') as typeof import('google-protobuf/google/protobuf/empty_pb.js');

type UUID = InstanceType<typeof sharedPb.UUID>;

/** A UUID message as a lowercase string, from either of its wire forms. */
export function uuidToString(u: UUID | undefined): string {
  if (!u) return '';
  if (u.hasString()) return u.getString().toLowerCase();
  const s = u.getStructured();
  if (!s) return '';
  const hex = (v: string) => BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, '0');
  const h = hex(s.getMostSignificantBits()) + hex(s.getLeastSignificantBits());
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidMessage(id: string, structured: boolean): UUID {
  const u = new sharedPb.UUID();
  if (!structured) return u.setString(id);
  const h = id.replace(/-/g, '');
  const s = new sharedPb.UUID.Structured();
  s.setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${h.slice(0, 16)}`)).toString());
  s.setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${h.slice(16)}`)).toString());
  return u.setStructured(s);
}

export function streamIdentifier(name: string) {
  return new sharedPb.StreamIdentifier().setStreamName(Buffer.from(name, 'utf8'));
}

export function streamName(id: InstanceType<typeof sharedPb.StreamIdentifier> | undefined): string {
  return id ? Buffer.from(id.getStreamName_asU8()).toString('utf8') : '';
}
