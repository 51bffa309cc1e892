/**
 * JSON without floats: venues send prices and sizes as JSON numbers (Kraken) or mix them with strings (OANDA's
 * liquidity, "10000000.0"), and `JSON.parse` would turn "29430.20" into the float 29430.2 and lose digits past 2^53.
 * `parseExact` quotes every number token before `JSON.parse`, so each number reaches the parser as its source text.
 */

const QUOTE = 34; // "
const BACKSLASH = 92;
const MINUS = 45;

function isNumChar(c: number): boolean {
	// digits, '.', 'e', 'E', '+', '-'
	return (c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === MINUS;
}

/**
 * JSON text with every number token turned into a string token holding the same characters. A token
 * that is not a valid JSON number ("1.", "01") becomes a string too, and is refused by the field's
 * validation of the venue parser instead of failing the whole frame.
 */
export function quoteJsonNumbers(text: string): string {
	let out = "";
	let from = 0;
	const n = text.length;
	let i = 0;
	while (i < n) {
		const c = text.charCodeAt(i);
		if (c === QUOTE) {
			// skip the string, honouring escapes
			i++;
			while (i < n) {
				const d = text.charCodeAt(i);
				if (d === BACKSLASH) i += 2;
				else if (d === QUOTE) break;
				else i++;
			}
			i++;
		} else if ((c >= 48 && c <= 57) || c === MINUS) {
			const start = i;
			i++;
			while (i < n && isNumChar(text.charCodeAt(i))) i++;
			out += text.slice(from, start) + '"' + text.slice(start, i) + '"';
			from = i;
		} else i++;
	}
	return from === 0 ? text : out + text.slice(from);
}

/** `JSON.parse` where every number arrives as its exact source text (a string). Throws SyntaxError like JSON.parse. */
export function parseExact(text: string): unknown {
	return JSON.parse(quoteJsonNumbers(text));
}

