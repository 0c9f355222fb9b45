import Foundation

/// The throwaway PostgreSQL cluster that `scripts/start-postgres` started, for tests that stop it on purpose
/// (`RECHARGE_PG_DIR` and `RECHARGE_PG_BINDIR` are exported beside its URL). Such tests must run on their own:
/// scripts/test runs the suites one at a time.
public enum PostgresServerControl {
    private static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Whether this process may stop and start the test cluster.
    public static var available: Bool {
        TestDatabase.postgresAvailable && environment["RECHARGE_PG_DIR"] != nil && environment["RECHARGE_PG_BINDIR"] != nil
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: backends get SIGQUIT, send a warning at most, and
    /// exit; the next start runs crash recovery), then starts it again on the same port with the same options.
    public static func restartImmediately() async throws {
        try await pgCtl(["restart", "-m", "immediate", "-w", "-t", "60"])
    }

    private static func pgCtl(_ arguments: [String]) async throws {
        let directory = environment["RECHARGE_PG_DIR"]!
        let pgCtl = environment["RECHARGE_PG_BINDIR"]! + "/pg_ctl"
        let command = [pgCtl, "-D", directory + "/data"] + arguments
        // PostgreSQL refuses to run as root: scripts/start-postgres runs it as the `postgres` user then.
        let argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + command : command
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            // A blocking wait, on a thread of its own rather than the cooperative pool. posix_spawn and waitpid rather
            // than Foundation's Process, whose waitUntilExit was seen to hang after `pg_ctl restart` (the server it
            // starts keeps the inherited descriptors).
            Thread.detachNewThread {
                var pid: pid_t = 0
                let cArguments = argv.map { strdup($0) } + [nil]
                defer { cArguments.forEach { free($0) } }
                var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
                guard spawned == 0 else {
                    continuation.resume(throwing: PostgresServerControlError.pgCtlFailed("spawn", spawned))
                    return
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: (status >> 8) & 0xff)
            }
        }
        guard status == 0 else { throw PostgresServerControlError.pgCtlFailed(arguments.first ?? "", status) }
    }
}

public enum PostgresServerControlError: Error {
    case pgCtlFailed(String, Int32)
}
