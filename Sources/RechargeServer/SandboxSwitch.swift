import Foundation
import RechargePayments

/// Whether `recharge serve` offers the sandbox. Its Pay button credits a line without any money, so it is off
/// unless something asks for it: `--sandbox` (or `RECHARGE_SANDBOX=on`) or `--demo`. An explicit off
/// (`--no-sandbox`, `RECHARGE_SANDBOX=off`) wins over `--demo`; the flag wins over the environment.
public struct SandboxSwitch: Sendable, Equatable {
    /// Why it is on; nil when off.
    public let reason: String?

    public var isOn: Bool { reason != nil }

    /// A value of `RECHARGE_SANDBOX` that is neither on nor off: refused, so a typo cannot turn it on (or off) by surprise.
    public struct InvalidSetting: Error, CustomStringConvertible {
        public let value: String
        public var description: String { "RECHARGE_SANDBOX must be on or off, not '\(value)'" }
    }

    /// `flag`: true for `--sandbox`, false for `--no-sandbox`, nil for neither; `environment`: `RECHARGE_SANDBOX`.
    public init(flag: Bool?, environment: String?, demo: Bool) throws(InvalidSetting) {
        var setting: Bool?
        if let environment {
            switch environment.lowercased() {
            case "on", "1", "true", "yes": setting = true
            case "off", "0", "false", "no": setting = false
            case "": setting = nil
            default: throw InvalidSetting(value: environment)
            }
        }
        switch (flag, setting, demo) {
        case (true?, _, _): reason = "--sandbox"
        case (false?, _, _): reason = nil
        case (nil, true?, _): reason = "RECHARGE_SANDBOX=on"
        case (nil, false?, _): reason = nil
        case (nil, nil, true): reason = "--demo"
        case (nil, nil, false): reason = nil
        }
    }

    /// The gateway to offer: nil when off. `secret` signs its notifications (random per process when nil).
    public func gateway(secret: String?) -> SandboxGateway? {
        isOn ? SandboxGateway(secret: secret) : nil
    }

    /// What the server logs, as a warning, when it starts with the sandbox on.
    public var startWarning: String? {
        reason.map { "The sandbox payment provider is ON (\($0)): anyone can pay orders with test payments that move no money. Never on a production server." }
    }
}
