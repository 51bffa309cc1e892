/** ISO 4217 currencies (and the quoting units GBX, USX: pence and cents) the venues list. */
export const FIAT = new Set(
	"AED ARS AUD BGN BRL CAD CHF CLP CNH CNY COP CZK DKK EUR GBP GBX HKD HUF IDR ILS INR ISK JPY KRW KWD MXN MYR NOK NZD PHP PLN RON RUB SAR SEK SGD THB TRY TWD UAH USD USX ZAR".split(" "),
);

/** Precious metals by their ISO codes. */
export const METALS = new Set(["XAU", "XAG", "XPT", "XPD"]);

export function isFiat(code: string): boolean {
	return FIAT.has(code.toUpperCase());
}
