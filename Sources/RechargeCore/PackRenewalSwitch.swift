import Foundation

/// Where a pack's auto-renewal stands (`pack_renewals.state`): renewing at the end of each period, stopped by its
/// last renewal failing (final: the subscriber buys the pack again), or turned off (by the subscriber, or by a refund).
public enum PackRenewalState: String, Sendable, Hashable, Codable {
    case active
    case failed
    case cancelled
}

/// The subscriber's auto-renew switch for one pack, decided without a database: the store reads the renewal under
/// its lock, asks ``turnOn(state:validUntil:refunded:now:)``, and writes the answer with an update conditional on
/// what it read.
///
/// Off is always allowed while the renewal is not over (the pack ends with its current period). On is allowed
/// only while there is a current period to renew from: turning a renewal on after its pack ended would buy a new
/// pack from the balance without the subscriber choosing one, and a pack given back (refunded) must not come back.
public enum PackRenewalSwitch {
    public enum Refusal: Error, Equatable, Sendable {
        /// The last renewal failed (balance too low, pack withdrawn, line suspended): the pack ended.
        case failed
        /// The current period is over: there is nothing left to renew.
        case periodOver
        /// The pack was refunded (or a refund of it is under way).
        case refunded

        /// The stable code the API answers with.
        public var code: String {
            switch self {
            case .failed: "renewal-failed"
            case .periodOver: "renewal-period-over"
            case .refunded: "renewal-refunded"
            }
        }

        public var detail: String {
            switch self {
            case .failed: "The pack's last renewal failed, so the pack has ended; buy it again to renew it."
            case .periodOver: "The pack's period is over; buy it again to renew it."
            case .refunded: "The pack was refunded and does not renew."
            }
        }
    }

    /// The state after turning renewal on, or why it cannot be. Turning on one already on leaves it on.
    public static func turnOn(state: PackRenewalState, validUntil: Date, refunded: Bool, now: Date) -> Result<PackRenewalState, Refusal> {
        switch state {
        case .failed: return .failure(.failed)
        case .active, .cancelled:
            if refunded { return .failure(.refunded) }
            if validUntil <= now { return .failure(.periodOver) }
            return .success(.active)
        }
    }

    /// The state after turning renewal off, or why it cannot be (a failed renewal is already over).
    public static func turnOff(state: PackRenewalState) -> Result<PackRenewalState, Refusal> {
        switch state {
        case .failed: .failure(.failed)
        case .active, .cancelled: .success(.cancelled)
        }
    }
}
