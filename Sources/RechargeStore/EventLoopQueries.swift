import Logging
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit

/// A PostgreSQL connection's `SQLDatabase` whose queries are started on the connection's own event loop.
///
/// **Why.** PostgresNIO 1.33.2 stops the process (`RowStreamStateMachine.swift:94`, "How can we receive a body part,
/// after a channelReadComplete, but no read has been forwarded yet") when the server closes a connection while a
/// result is streaming to a consumer that has not asked for more rows: on end of file SwiftNIO reads everything
/// left on the socket in one loop and fires `channelReadComplete` after each read, without the `read()` the row
/// stream's state machine waits for in between. PostgresKit starts a query with `query(…, onRow)` and attaches
/// the row callback with `flatMap` on the query's future. Called from a task (off the event loop) that
/// registration races the server's answer: when the answer wins, its rows are buffered with no consumer and so
/// no demand, and an end of file in that window (`pg_ctl stop -m immediate`, a failover, a backend killed) crashes
/// the process. Started on the event loop, the callback is attached before the event loop can read any answer,
/// so the stream always has a consumer that asks for more rows as soon as it gets some, and the state the
/// precondition rejects is never reached. docs/postgresnio-eof-report.md has the report for the maintainers;
/// `PostgresOutageTests` reproduces it.
///
/// **Closed connections.** The pool learns that a connection closed a moment after it did, and may lease it in
/// between. A query written to a closed channel is never answered (the write fails with no one to tell, and the
/// query's promise is left pending), so the caller would wait out its whole deadline. On the event loop, the check
/// and the write happen in one step: a closed connection fails the query at once with ``ConnectionClosed``.
struct EventLoopQueries: SQLDatabase {
    let connection: PostgresConnection
    let base: any SQLDatabase

    init(_ connection: PostgresConnection) {
        self.connection = connection
        self.base = connection.sql(queryLogLevel: nil)
    }

    /// The connection was closed (by the server or the network) before the query could be sent.
    struct ConnectionClosed: Error {}

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        let (base, connection) = (self.base, self.connection)
        @Sendable func start() -> EventLoopFuture<Void> {
            guard !connection.isClosed else { return base.eventLoop.makeFailedFuture(ConnectionClosed()) }
            return base.execute(sql: query, onRow)
        }
        if base.eventLoop.inEventLoop { return start() }
        return base.eventLoop.flatSubmit { start() }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await execute(sql: query, onRow).get()
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}
