// Types of what the dashboard receives from the API, derived from the server's own response schemas so that the
// page and the API cannot drift apart unnoticed (type-checked by tsconfig.dashboard.json; never served).
import type { z } from 'zod';
import type * as calls from '../routes/callsSchemas.ts';

export type CallRow = z.output<typeof calls.ApiCall>;
export type CallSummary = z.output<typeof calls.ApiCallSummary>;
export type CallList = z.output<typeof calls.CallList>;
export type CallDetail = z.output<typeof calls.CallDetail>;
export type RecordingResponse = z.output<typeof calls.RecordingResponse>;
export type CallHistory = z.output<typeof calls.CallHistory>;
export type RecordingSummary = CallDetail['recording'];

/** A row of GET /api/audit/downloads. */
export type { DownloadRecord as DownloadRow } from '../../projections/recordingDownloads/queries.ts';

/** What the page knows about the signed-in user. */
export type Session = NonNullable<ReturnType<typeof import('./format.js').sessionFromToken>>;
