/** Something to undo: a subscription, a timer. Shaped like vscode.Disposable so the shell can push it. */
export interface Disposable {
  dispose(): void;
}

/** A minimal event source for core models (the vscode layer adapts it to vscode.Event). */
export class ChangeEmitter<T = void> {
  private listeners = new Set<(value: T) => void>();

  /** Subscribes; a listener that throws does not stop the others. */
  readonly event = (listener: (value: T) => void): Disposable => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch {
        // A broken view must not break the model that notifies it.
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
