import { Errors } from "moleculer";
import { ParamError } from "../lib/api/params";

/**
 * Run an action body and answer the caller's mistakes as Moleculer client errors (HTTP 400 through the
 * gateway, with the parameter named); `translate` maps a service's own error types, anything else is
 * rethrown as is.
 */
export async function asClientErrors<T>(fn: () => Promise<T> | T, translate?: (err: unknown) => Error | undefined): Promise<T> {
	try {
		return await fn();
	} catch (err) {
		if (err instanceof ParamError) throw new Errors.MoleculerClientError(err.message, 400, err.code, { param: err.param });
		throw translate?.(err) ?? err;
	}
}
