export interface Badge {
  label: string;
  tone: 'ok' | 'pending' | 'warn' | 'bad' | 'muted';
}
export declare function recordingBadge(status: string, transcriptOnly?: boolean): Badge;
export declare function statusFromLiveEvent(name: string, data: unknown): { status: string; transcriptOnly: boolean } | undefined;
export declare function reasonText(code: string): string;
export declare function formatDuration(seconds: number | null | undefined): string;
export declare function formatBytes(bytes: number | null | undefined): string;
export declare function formatDateTime(iso: string | null | undefined, locale?: string): string;
export declare function formatTime(iso: string | null | undefined, locale?: string): string;
export declare function formatCost(cost: number | null | undefined): string;
export declare function humanize(code: string | null | undefined): string;
export declare function shortId(id: string): string;
export declare function formatMetricValue(value: number | null | undefined, unit: string): string;
export declare function transcriptTurns(transcript: string | null | undefined): Array<{ speaker: string; text: string }>;
export declare function decodeJwtClaims(token: string): Record<string, unknown> | undefined;
export declare function readClaim(claims: unknown, path: string): unknown;
export declare function sessionFromToken(
  token: string,
  orgClaim?: string,
  roleClaim?: string,
): { userId: string; orgId: string; role: 'member' | 'auditor' | 'admin'; expiresAtMs: number | undefined } | undefined;
