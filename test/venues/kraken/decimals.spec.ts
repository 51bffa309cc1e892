import Decimal from "decimal.js";
import fc from "fast-check";
import { compareDecimal, renderDecimal } from "../../../lib/venues/kraken/precision";

/** renderDecimal's plain fast path and compareDecimal against decimal.js on generated decimal text. */

const plain = fc
	.tuple(fc.oneof(fc.constant("0"), fc.bigInt({ min: 1n, max: 10n ** 20n }).map(String)), fc.option(fc.stringMatching(/^[0-9]{1,12}$/), { nil: undefined }))
	.map(([int, frac]) => (frac === undefined ? int : `${int}.${frac}`));

describe("exact decimal text", () => {
	it("renders at a precision with the value unchanged and exactly max(dp, significant decimals) decimals", () => {
		fc.assert(
			fc.property(plain, fc.nat(12), (raw, dp) => {
				const out = renderDecimal(raw, dp);
				const d = new Decimal(raw);
				expect(new Decimal(out).eq(d)).toBe(true);
				expect(out).toBe(d.toFixed(Math.max(dp, d.decimalPlaces())));
			}),
			{ numRuns: 3000 },
		);
		expect(renderDecimal("17.000", 0)).toBe("17");
		expect(renderDecimal("17", 2)).toBe("17.00");
		expect(renderDecimal("0.5", 0)).toBe("0.5");
		expect(renderDecimal("-0.50", 1)).toBe("-0.5");
		expect(renderDecimal("00.5", 1)).toBe("0.5");
		expect(() => renderDecimal("1.", 1)).toThrow(RangeError);
		expect(() => renderDecimal("", 1)).toThrow(RangeError);
	});

	it("orders decimal text as decimal.js does", () => {
		fc.assert(
			fc.property(plain, plain, (a, b) => {
				expect(Math.sign(compareDecimal(a, b))).toBe(new Decimal(a).cmp(b));
				expect(Math.sign(compareDecimal(renderDecimal(a, 3), renderDecimal(b, 3)))).toBe(new Decimal(a).cmp(b));
			}),
			{ numRuns: 3000 },
		);
		expect(compareDecimal("5", "5.000")).toBe(0);
		expect(compareDecimal("5.0001", "5")).toBeGreaterThan(0);
	});
});
