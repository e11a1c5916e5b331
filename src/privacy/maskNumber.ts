/**
 * How a caller's number is shown to a user who may not see it in full (role `member`): the country code of an
 * E.164 number and its last four digits, everything else as dots — `+15551234567` → `+1 ••• ••• 4567`,
 * `+447911123456` → `+44 ••• ••• 3456`. The dots are always two groups of three, whatever the length, so the
 * mask does not tell how long the number is. When the national part (the digits after the country code) has
 * fewer than 7 digits (a short code, an extension), or there are no digits at all (`anonymous`), it is dots
 * only: its last four digits would say too much of it. Pure; no phone-number database.
 */

export const MASK_DOTS = '•••';

/** ITU-T E.164 country codes of one digit (1 = North America, 7 = Russia/Kazakhstan). */
const ONE_DIGIT = new Set(['1', '7']);
/** ITU-T E.164 country codes of two digits; every other code has three. */
const TWO_DIGITS = new Set([
  '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84',
  '86', '90', '91', '92', '93', '94', '95', '98',
]);

/** The country code of the digits of an E.164 number (without the `+`). */
export function countryCodeOf(digits: string): string {
  if (ONE_DIGIT.has(digits.slice(0, 1))) return digits.slice(0, 1);
  if (TWO_DIGITS.has(digits.slice(0, 2))) return digits.slice(0, 2);
  return digits.slice(0, 3);
}

/** The masked form of a caller's number (null stays null). */
export function maskPhoneNumber(value: string | null): string | null {
  if (value === null) return null;
  const text = value.trim();
  const digits = text.replace(/\D/g, '');
  const cc = /^\+\s*\d/.test(text) ? countryCodeOf(digits) : '';
  const prefix = cc ? `+${cc} ` : '';
  // the national part (after the country code) must keep at least three hidden digits besides the last four
  if (digits.length - cc.length < 7) return `${prefix}${MASK_DOTS} ${MASK_DOTS}`;
  return `${prefix}${MASK_DOTS} ${MASK_DOTS} ${digits.slice(-4)}`;
}
