/** A one-shot wake-up for a waiting pull: wait(ms) resolves on notify() or after ms, whichever is first. */
export class Signal {
	private waiter: (() => void) | null = null;

	wait(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const timer = setTimeout(finish, ms);
			const self = this;
			function finish() {
				clearTimeout(timer);
				if (self.waiter === finish) self.waiter = null;
				resolve();
			}
			this.waiter = finish;
		});
	}

	notify(): void {
		this.waiter?.();
	}
}
