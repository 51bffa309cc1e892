/**
 * Runs the tasks given to it one at a time, in the order given; a task that fails (or throws at once) gives its turn
 * up too. Used for the tick-writer's COPYs, a JetStream consumer's pulls and the HTTP rate limiter's queue.
 */
export function takingTurns(): <T>(task: () => Promise<T>) => Promise<T> {
	let last: Promise<unknown> = Promise.resolve();
	return <T>(task: () => Promise<T>): Promise<T> => {
		const turn = last.then(task);
		last = turn.catch(() => undefined);
		return turn;
	};
}
