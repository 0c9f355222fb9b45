import Foundation
import NIOPosix

/// A task executor with one thread of its own: where the group-commit leader runs on PostgreSQL, so the
/// ledger's serial section does not wait behind every HTTP handler queued on Swift's shared cooperative
/// pool. Each of a batch's awaits (a statement, the commit) resumes on this mostly idle thread at once
/// instead of at the back of the pool's queue (bench/README.md, "Where the time goes").
final class DedicatedExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is only touched under `condition`'s lock.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init(name: String) {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}

/// A task executor that runs jobs on a one-thread `NIOThreadPool`, the same pool that runs the SQLite
/// writer connection's statements. A task preferring it (the group-commit leader) runs on that one thread
/// together with its statements: awaiting a statement queues the statement behind the current job on the
/// same thread, and the statement's completion queues the task's next step behind it, so a whole batch
/// runs without a single hand-off between threads. On 2 busy cores each hand-off cost up to a scheduler
/// slice, and a batch makes a dozen of them.
final class ThreadPoolExecutor: TaskExecutor, Sendable {
    let pool: NIOThreadPool

    /// Starts a pool of one thread.
    init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pool.submit { _ in
            // Also when the pool is shutting down: a job must run once, or its task never finishes.
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }

    func shutDown() async {
        try? await pool.shutdownGracefully()
    }
}
