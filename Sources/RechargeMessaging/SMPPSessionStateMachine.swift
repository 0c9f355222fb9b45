/// The lifecycle of an ESME session: disconnected → connecting → binding → bound → unbinding → stopped,
/// with reconnects after failures. Each event returns what the client must do next; an event that makes no
/// sense in the current state is a typed error rather than a silent no-op.
public struct SMPPSessionStateMachine: Sendable {
    /// Where the session is. `failures` counts failed attempts since the last successful bind.
    public enum State: Sendable, Hashable {
        case disconnected(failures: Int)
        case connecting(failures: Int)
        case binding(failures: Int)
        case bound
        case unbinding
        case stopped
    }

    /// What the client does next.
    public enum Action: Sendable, Hashable {
        case connect
        case sendBind
        /// Bound: release waiting submits and start the enquire_link timer.
        case startSession
        /// Close whatever channel there is and connect again after the delay.
        case reconnect(after: Duration)
        case sendUnbind
        case close
        /// Nothing further will happen on this session.
        case finish
        case none
    }

    /// An event that the current state cannot take.
    public struct IllegalTransition: Error, Sendable, Hashable {
        public var state: State
        public var event: String
    }

    public private(set) var state: State = .disconnected(failures: 0)
    public let backoff: SMPPBackoff

    public init(backoff: SMPPBackoff) {
        self.backoff = backoff
    }

    public var isBound: Bool { state == .bound }

    /// Starts the first attempt, or the next one once a reconnect delay has passed.
    public mutating func connectNow() throws(IllegalTransition) -> Action {
        guard case .disconnected(let failures) = state else { throw IllegalTransition(state: state, event: "connect") }
        state = .connecting(failures: failures)
        return .connect
    }

    public mutating func connected() throws(IllegalTransition) -> Action {
        guard case .connecting(let failures) = state else { throw IllegalTransition(state: state, event: "connected") }
        state = .binding(failures: failures)
        return .sendBind
    }

    public mutating func connectFailed() throws(IllegalTransition) -> Action {
        guard case .connecting(let failures) = state else {
            throw IllegalTransition(state: state, event: "connectFailed")
        }
        return fail(after: failures)
    }

    public mutating func bindAccepted() throws(IllegalTransition) -> Action {
        guard case .binding = state else { throw IllegalTransition(state: state, event: "bindAccepted") }
        state = .bound
        return .startSession
    }

    /// The SMSC refused the bind or did not answer it in time.
    public mutating func bindFailed() throws(IllegalTransition) -> Action {
        guard case .binding(let failures) = state else { throw IllegalTransition(state: state, event: "bindFailed") }
        return fail(after: failures)
    }

    /// The TCP link went away (peer closed, reset, keep-alive unanswered).
    public mutating func linkLost() -> Action {
        switch state {
        case .connecting(let failures), .binding(let failures):
            return fail(after: failures)
        case .bound:
            return fail(after: 0)
        case .unbinding:
            state = .stopped
            return .finish
        case .disconnected, .stopped:
            return .none
        }
    }

    /// The owner wants the session over: unbind politely when bound, otherwise just stop.
    public mutating func stopRequested() -> Action {
        switch state {
        case .bound:
            state = .unbinding
            return .sendUnbind
        case .connecting, .binding:
            state = .stopped
            return .close
        case .disconnected:
            state = .stopped
            return .finish
        case .unbinding, .stopped:
            return .none
        }
    }

    /// unbind_resp arrived (or the unbind timed out): the link can close.
    public mutating func unbindCompleted() throws(IllegalTransition) -> Action {
        guard state == .unbinding else { throw IllegalTransition(state: state, event: "unbindCompleted") }
        state = .stopped
        return .close
    }

    private mutating func fail(after failures: Int) -> Action {
        let count = failures + 1
        state = .disconnected(failures: count)
        return .reconnect(after: backoff.delay(afterFailures: count))
    }
}
