import Testing

@testable import RechargeMessaging

@Suite("SMPP session state machine")
struct SMPPSessionStateMachineTests {
    let backoff = SMPPBackoff(initial: .milliseconds(100), maximum: .seconds(1))

    @Test func happyPathBindsThenUnbindsAndFinishes() throws {
        var machine = SMPPSessionStateMachine(backoff: backoff)
        #expect(try machine.connectNow() == .connect)
        #expect(try machine.connected() == .sendBind)
        #expect(try machine.bindAccepted() == .startSession)
        #expect(machine.isBound)
        #expect(machine.stopRequested() == .sendUnbind)
        #expect(machine.state == .unbinding)
        #expect(try machine.unbindCompleted() == .close)
        #expect(machine.linkLost() == .none)
        #expect(machine.state == .stopped)
    }

    @Test func failuresBackOffExponentiallyUpToTheCap() throws {
        var machine = SMPPSessionStateMachine(backoff: backoff)
        var delays: [Duration] = []
        for _ in 0..<6 {
            _ = try machine.connectNow()
            if case .reconnect(let delay) = try machine.connectFailed() { delays.append(delay) }
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
    }

    @Test func refusedBindCountsAsAFailure() throws {
        var machine = SMPPSessionStateMachine(backoff: backoff)
        _ = try machine.connectNow()
        _ = try machine.connected()
        #expect(try machine.bindFailed() == .reconnect(after: .milliseconds(100)))
        #expect(machine.state == .disconnected(failures: 1))
    }

    @Test func droppedLinkReconnectsAndASuccessfulBindResetsTheCount() throws {
        var machine = SMPPSessionStateMachine(backoff: backoff)
        _ = try machine.connectNow()
        _ = try machine.connectFailed()
        _ = try machine.connectNow()
        _ = try machine.connected()
        _ = try machine.bindAccepted()
        #expect(machine.linkLost() == .reconnect(after: .milliseconds(100)))
        #expect(machine.state == .disconnected(failures: 1))
    }

    @Test func stopWhileConnectingClosesWithoutUnbind() throws {
        var machine = SMPPSessionStateMachine(backoff: backoff)
        _ = try machine.connectNow()
        #expect(machine.stopRequested() == .close)
        #expect(throws: SMPPSessionStateMachine.IllegalTransition.self) { try machine.connected() }
        #expect(machine.linkLost() == .none)
    }

    @Test func illegalTransitionsAreErrors() {
        var machine = SMPPSessionStateMachine(backoff: backoff)
        #expect(throws: SMPPSessionStateMachine.IllegalTransition(state: .disconnected(failures: 0), event: "bindAccepted")) {
            try machine.bindAccepted()
        }
        #expect(throws: SMPPSessionStateMachine.IllegalTransition.self) { try machine.unbindCompleted() }
        #expect(machine.stopRequested() == .finish)
        #expect(throws: SMPPSessionStateMachine.IllegalTransition.self) { try machine.connectNow() }
    }
}
