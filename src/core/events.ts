/** A minimal event emitter for core models (the vscode layer adapts it to vscode.Event). */
export type Listener<T> = (value: T) => void;

export interface Disposable {
  dispose(): void;
}

export class Emitter<T> {
  private listeners = new Set<Listener<T>>();

  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch {
        // A listener's failure must not break the model or other listeners.
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
