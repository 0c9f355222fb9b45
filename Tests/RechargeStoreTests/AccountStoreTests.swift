import Foundation
import RechargeCore
import RechargeTestSupport
import SQLKit
import Testing

@testable import RechargeStore

/// Portal accounts on each engine: one-time codes (single use, counted attempts, expiry, a rate limit),
/// registration, passwords, the login throttle, sessions, lines, and the contacts and language of their notices.
enum AccountStoreScenarios {
    static let now = TestDatabase.epoch
    static let alice = LedgerScenarios.alice
    static let bob = LedgerScenarios.bob
    static let carol = try! MSISDN("+14155550102")
    static let notifyPhone = try! MSISDN("+14155550199")
    static let hash = "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

    struct Fixture {
        let database: Database
        let ledger: LedgerStore
        let accounts: AccountStore
    }

    static func with(_ backend: Backend, _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with(backend) { database in
            let fixture = Fixture(database: database, ledger: LedgerStore(database: database), accounts: AccountStore(database: database))
            try await LedgerScenarios.open(fixture.ledger, alice)
            try await body(fixture)
        }
    }

    /// Registers `phone` with a code issued at `at`.
    @discardableResult
    static func register(_ fixture: Fixture, _ phone: MSISDN, email: String? = nil, at: Date = now) async throws -> Account {
        let issued = try await fixture.accounts.issueCode(purpose: .register, target: phone.e164, accountID: nil, language: .english, now: at)
        return try await fixture.accounts.register(phone: phone, code: issued.code, passwordHash: hash, email: email, language: .simplifiedChinese, now: at)
    }

    static func wrong(_ code: String) -> String {
        let value = (Int(code)! + 1) % 1_000_000
        let digits = String(value)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }

    static func outbox(_ database: Database) async throws -> [OutboxMessage] {
        try await OutboxScenarios.rows(database)
    }

    // MARK: Scenarios

    static func registersWithTheSMSCode(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let issued = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .simplifiedChinese, now: now)
            #expect(issued.code.count == 6 && issued.code.allSatisfy(\.isNumber) && issued.expiresAt == now.addingTimeInterval(600))
            let sms = try await outbox(fixture.database).filter { $0.eventName == "one_time_code" }
            #expect(sms.count == 1)
            #expect(sms.first?.channel == .sms && sms.first?.recipient == alice.e164 && sms.first?.language == .simplifiedChinese)
            // The outbox keeps the code sealed (nothing that reads the outbox sees it); delivery opens it.
            let queued = try #require(sms.first?.event)
            #expect(queued != .oneTimeCode(code: issued.code, validMinutes: 10))
            #expect(try await fixture.database.codeSeal().opening(queued) == .oneTimeCode(code: issued.code, validMinutes: 10))
            let payloads = try await fixture.database.read { db in
                try await db.raw("SELECT payload FROM outbox").all().map { try $0.decode(column: "payload", as: String.self) }
            }
            #expect(payloads.count == 1 && !payloads.contains { $0.contains(issued.code) })
            #expect(sms.first?.eventKey.hasPrefix("code:") == true)
            // Outside the outbox event the code is only a hash.
            let stored = try await fixture.database.read { db in
                try await db.raw("SELECT purpose, target, code_hash FROM verification_codes").all().map { try $0.decode(column: "code_hash", as: String.self) }
            }
            #expect(stored == [sha256Hex("register|\(alice.e164)|\(issued.code)")])
            #expect(!stored.contains { $0.contains(issued.code) })

            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.register(phone: alice, code: wrong(issued.code), passwordHash: hash, email: nil, language: .english, now: now)
            }
            let account = try await accounts.register(phone: alice, code: issued.code, passwordHash: hash, email: "li.wei@example.com",
                                                      language: .simplifiedChinese, now: now)
            #expect(account.phone == alice && account.email == "li.wei@example.com" && account.notifyPhone == nil)
            #expect(account.language == .simplifiedChinese && account.createdAt == now)
            #expect(try await accounts.account(id: account.id) == account)
            let credentials = try #require(try await accounts.credentials(phone: alice))
            #expect(credentials.account == account && credentials.passwordHash == hash)
            #expect(try await accounts.credentials(phone: bob) == nil)
            // The line with the registered number is the account's.
            #expect(try await accounts.lines(accountID: account.id) == [alice])
            #expect(try await accounts.owns(accountID: account.id, msisdn: alice))
            // The code is used up, and a number registered once cannot register again, even with a fresh code.
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.register(phone: alice, code: issued.code, passwordHash: hash, email: nil, language: .english, now: now)
            }
            await #expect(throws: AccountError.codeInvalid) { try await register(fixture, alice) }
            // A number with no line registers too, owning nothing.
            let other = try await register(fixture, bob)
            #expect(try await accounts.lines(accountID: other.id) == [])
            let count = try await fixture.database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM accounts").first()!.decode(column: "n", as: Int.self) }
            #expect(count == 2)
        }
    }

    static func fiveWrongCodesKillTheCode(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let issued = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now)
            for _ in 0..<5 {
                await #expect(throws: AccountError.codeInvalid) {
                    try await accounts.register(phone: alice, code: wrong(issued.code), passwordHash: hash, email: nil, language: .english, now: now)
                }
            }
            // The attempts were committed although every call failed.
            let attempts = try await fixture.database.read { db in
                try await db.raw("SELECT attempts FROM verification_codes").first()!.decode(column: "attempts", as: Int.self)
            }
            #expect(attempts == 5)
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.register(phone: alice, code: issued.code, passwordHash: hash, email: nil, language: .english, now: now)
            }
            #expect(try await accounts.credentials(phone: alice) == nil)
            // A code for another purpose is no register code.
            let reset = try await accounts.issueCode(purpose: .passwordReset, target: alice.e164, accountID: nil, language: .english, now: now)
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.register(phone: alice, code: reset.code, passwordHash: hash, email: nil, language: .english, now: now)
            }
            // A new register code works.
            #expect(try await register(fixture, alice).phone == alice)
        }
    }

    static func expiredAndSupersededCodesAreRefused(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let first = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now)
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.register(phone: alice, code: first.code, passwordHash: hash, email: nil, language: .english, now: now.addingTimeInterval(600))
            }
            let second = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now.addingTimeInterval(700))
            let third = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now.addingTimeInterval(710))
            if second.code != third.code {
                await #expect(throws: AccountError.codeInvalid) {
                    try await accounts.register(phone: alice, code: second.code, passwordHash: hash, email: nil, language: .english, now: now.addingTimeInterval(720))
                }
            }
            let account = try await accounts.register(phone: alice, code: third.code, passwordHash: hash, email: nil, language: .english,
                                                      now: now.addingTimeInterval(710 + 599))
            #expect(account.phone == alice)
        }
    }

    static func sixthCodeInAnHourIsRefused(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            for minute in 0..<5 {
                _ = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now.addingTimeInterval(Double(minute) * 60))
            }
            await #expect(throws: AccountError.tooManyCodes(retryAfterSeconds: 3300)) {
                try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now.addingTimeInterval(300))
            }
            // Other purposes and targets have limits of their own.
            _ = try await accounts.issueCode(purpose: .passwordReset, target: alice.e164, accountID: nil, language: .english, now: now.addingTimeInterval(300))
            _ = try await accounts.issueCode(purpose: .register, target: bob.e164, accountID: nil, language: .english, now: now.addingTimeInterval(300))
            // Refused requests sent nothing.
            #expect(try await outbox(fixture.database).filter { $0.recipient == alice.e164 }.count == 6)
            // An hour after the first, one more may go.
            let later = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now.addingTimeInterval(3601))
            #expect(try await accounts.register(phone: alice, code: later.code, passwordHash: hash, email: nil, language: .english,
                                                now: now.addingTimeInterval(3601)).phone == alice)
        }
    }

    static func concurrentRegistrationsMakeOneAccount(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let issued = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now)
            let outcomes = await withTaskGroup(of: Result<Account, any Error>.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        do {
                            return .success(try await accounts.register(phone: alice, code: issued.code, passwordHash: hash, email: nil, language: .english, now: now))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var outcomes: [Result<Account, any Error>] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            let created = outcomes.compactMap { try? $0.get() }
            #expect(created.count == 1)
            for case .failure(let error) in outcomes { #expect(error as? AccountError == .codeInvalid, "\(error)") }
            let count = try await fixture.database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM accounts").first()!.decode(column: "n", as: Int.self) }
            #expect(count == 1)
            #expect(try await accounts.lines(accountID: try #require(created.first).id) == [alice])
        }
    }

    static func passwordResetEndsSessions(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let account = try await register(fixture, alice)
            let first = try await accounts.createSession(accountID: account.id, replacing: nil, now: now)
            let second = try await accounts.createSession(accountID: account.id, replacing: nil, now: now)
            // A password change keeps the session it was made in and ends the others.
            try await accounts.changePassword(accountID: account.id, passwordHash: "changed", keepingSession: first.token, now: now)
            #expect(try await accounts.session(token: first.token, now: now)?.account == account)
            #expect(try await accounts.session(token: second.token, now: now) == nil)
            #expect(try await accounts.credentials(phone: alice)?.passwordHash == "changed")
            await #expect(throws: AccountError.accountNotFound) {
                try await accounts.changePassword(accountID: account.id + 100, passwordHash: "x", keepingSession: first.token, now: now)
            }

            for _ in 0..<5 { _ = try await accounts.recordLoginFailure(phone: alice, client: "192.0.2.1", now: now) }
            #expect(try await accounts.loginLockedUntil(phone: alice, client: "192.0.2.1", now: now) != nil)
            let code = try await accounts.issueCode(purpose: .passwordReset, target: alice.e164, accountID: nil, language: .english, now: now)
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.resetPassword(phone: alice, code: wrong(code.code), passwordHash: "reset", client: "192.0.2.1", now: now)
            }
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.resetPassword(phone: bob, code: code.code, passwordHash: "reset", client: "192.0.2.1", now: now)
            }
            try await accounts.resetPassword(phone: alice, code: code.code, passwordHash: "reset", client: "192.0.2.1", now: now)
            #expect(try await accounts.credentials(phone: alice)?.passwordHash == "reset")
            #expect(try await accounts.session(token: first.token, now: now) == nil)
            #expect(try await accounts.loginLockedUntil(phone: alice, client: "192.0.2.1", now: now) == nil)
            // The code is single use.
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.resetPassword(phone: alice, code: code.code, passwordHash: "again", client: "192.0.2.1", now: now)
            }
            // A number that is not registered gets the same answer, with a genuine code too.
            let unregistered = try await accounts.issueCode(purpose: .passwordReset, target: bob.e164, accountID: nil, language: .english, now: now)
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.resetPassword(phone: bob, code: unregistered.code, passwordHash: "reset", client: "192.0.2.1", now: now)
            }
        }
    }

    static func sessionsExpireAndRenew(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let account = try await register(fixture, alice)
            let session = try await accounts.createSession(accountID: account.id, replacing: nil, now: now)
            #expect(session.accountID == account.id && session.expiresAt == now.addingTimeInterval(43_200))
            #expect(session.token.count == 43 && session.csrfToken.count == 43 && session.token != session.csrfToken)
            #expect(!session.token.contains("=") && !session.token.contains("+") && !session.token.contains("/"))
            let found = try #require(try await accounts.session(token: session.token, now: now))
            #expect(found.session == session && found.account == account)
            #expect(try await accounts.session(token: "unknown", now: now) == nil)
            await #expect(throws: AccountError.accountNotFound) {
                try await accounts.createSession(accountID: account.id + 100, replacing: nil, now: now)
            }

            // Sliding idle timeout: each use (a minute or more after the last recorded one) moves it on.
            var instant = now
            for _ in 0..<5 {
                instant = instant.addingTimeInterval(1800)
                #expect(try await accounts.session(token: session.token, now: instant) != nil)
            }
            // A use within the minute is not written: 30 minutes after the last recorded use the session is still on.
            #expect(try await accounts.session(token: session.token, now: instant.addingTimeInterval(30)) != nil)
            #expect(try await accounts.session(token: session.token, now: instant.addingTimeInterval(1800)) != nil)
            instant = instant.addingTimeInterval(1800)
            // Idle for longer than 30 minutes: gone, and stays gone.
            #expect(try await accounts.session(token: session.token, now: instant.addingTimeInterval(1801)) == nil)
            #expect(try await accounts.session(token: session.token, now: instant) == nil)

            // Absolute lifetime: used every 25 minutes, still over after 12 hours.
            let busy = try await accounts.createSession(accountID: account.id, replacing: nil, now: now)
            instant = now
            while instant.addingTimeInterval(1500) < now.addingTimeInterval(43_200) {
                instant = instant.addingTimeInterval(1500)
                #expect(try await accounts.session(token: busy.token, now: instant) != nil)
            }
            #expect(try await accounts.session(token: busy.token, now: now.addingTimeInterval(43_200)) == nil)

            // Renewal on login deletes the previous session.
            let before = try await accounts.createSession(accountID: account.id, replacing: nil, now: now)
            let after = try await accounts.createSession(accountID: account.id, replacing: before.token, now: now)
            #expect(try await accounts.session(token: before.token, now: now) == nil)
            #expect(try await accounts.session(token: after.token, now: now) != nil)

            // Only hashes of tokens are stored.
            let stored = try await fixture.database.read { db in
                try await db.raw("SELECT token_hash FROM account_sessions").all().map { try $0.decode(column: "token_hash", as: String.self) }
            }
            #expect(stored == [sha256Hex(after.token)])
            try await accounts.endSession(token: after.token)
            #expect(try await accounts.session(token: after.token, now: now) == nil)
        }
    }

    static func loginThrottleGrowsAndResets(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            _ = try await register(fixture, alice)
            let client = "192.0.2.1"
            // Registered or not: the same behaviour.
            for phone in [alice, bob] {
                for _ in 0..<4 { #expect(try await accounts.recordLoginFailure(phone: phone, client: client, now: now) == nil) }
                #expect(try await accounts.loginLockedUntil(phone: phone, client: client, now: now) == nil)
                #expect(try await accounts.recordLoginFailure(phone: phone, client: client, now: now) == now.addingTimeInterval(60))
                #expect(try await accounts.loginLockedUntil(phone: phone, client: client, now: now.addingTimeInterval(59)) == now.addingTimeInterval(60))
                #expect(try await accounts.loginLockedUntil(phone: phone, client: client, now: now.addingTimeInterval(60)) == nil)
                let later = now.addingTimeInterval(61)
                #expect(try await accounts.recordLoginFailure(phone: phone, client: client, now: later) == later.addingTimeInterval(120))
                #expect(try await accounts.recordLoginFailure(phone: phone, client: client, now: later) == later.addingTimeInterval(240))
                try await accounts.recordLoginSuccess(phone: phone, client: client)
                #expect(try await accounts.loginLockedUntil(phone: phone, client: client, now: later) == nil)
                for _ in 0..<4 { #expect(try await accounts.recordLoginFailure(phone: phone, client: client, now: later) == nil) }
                #expect(try await accounts.recordLoginFailure(phone: phone, client: client, now: later) == later.addingTimeInterval(60))
            }
        }
    }

    /// A stranger's failures lock the stranger's address only; the number's own count, across every address, locks
    /// everyone at its much higher ceiling; the owner's reset code clears that and the owner's count, not the
    /// stranger's.
    static func lockoutsAreKeyedByNumberAndClient(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            _ = try await register(fixture, alice)
            let policy = LoginLockout(perClient: .perClient, perNumber: LoginLockoutPolicy(threshold: 12, firstLock: 900, maximumLock: 86_400))
            for _ in 0..<5 { _ = try await accounts.recordLoginFailure(phone: alice, client: "203.0.113.66", policy: policy, now: now) }
            #expect(try await accounts.loginLockedUntil(phone: alice, client: "203.0.113.66", now: now) == now.addingTimeInterval(60))
            #expect(try await accounts.loginLockedUntil(phone: alice, client: "198.51.100.7", now: now) == nil)
            // Seven more addresses, one failure each: the twelfth failure of the number locks every address for 15 min.
            for index in 1...7 {
                let until = try await accounts.recordLoginFailure(phone: alice, client: "203.0.113.\(index)", policy: policy, now: now)
                #expect(until == (index == 7 ? now.addingTimeInterval(900) : nil), "\(index)")
            }
            #expect(try await accounts.loginLockedUntil(phone: alice, client: "198.51.100.7", now: now) == now.addingTimeInterval(900))
            // The owner's reset code unlocks: the number's count and the owner's go, the stranger's lock stays.
            let code = try await accounts.issueCode(purpose: .passwordReset, target: alice.e164, accountID: nil, language: .english, now: now)
            try await accounts.resetPassword(phone: alice, code: code.code, passwordHash: "reset", client: "198.51.100.7", now: now)
            #expect(try await accounts.loginLockedUntil(phone: alice, client: "198.51.100.7", now: now) == nil)
            #expect(try await accounts.loginLockedUntil(phone: alice, client: "203.0.113.66", now: now) == now.addingTimeInterval(60))
            // A success gives back the one failure it was counted as before its check, and only that: the owner's
            // own logins never add up to the number's ceiling, a stranger's guesses stay counted.
            for _ in 0..<20 {
                #expect(try await accounts.recordLoginFailure(phone: bob, client: "198.51.100.7", policy: policy, now: now) == nil)
                try await accounts.recordLoginSuccess(phone: bob, client: "198.51.100.7")
            }
            for _ in 0..<4 { _ = try await accounts.recordLoginFailure(phone: bob, client: "203.0.113.66", policy: policy, now: now) }
            for index in 1...7 { _ = try await accounts.recordLoginFailure(phone: bob, client: "203.0.113.\(index)", policy: policy, now: now) }
            #expect(try await accounts.loginLockedUntil(phone: bob, client: "198.51.100.7", now: now) == nil)
            #expect(try await accounts.recordLoginFailure(phone: bob, client: "203.0.113.8", policy: policy, now: now) == now.addingTimeInterval(900))
            // One address trying a fresh number each time: its own count across numbers locks it out of all of them.
            let scanning = LoginLockout(perAddress: LoginLockoutPolicy(threshold: 6, firstLock: 300, maximumLock: 3600))
            for index in 1...6 {
                let until = try await accounts.recordLoginFailure(phone: try MSISDN("+1628555\(1000 + index)"), client: "192.0.2.99", policy: scanning, now: now)
                #expect(until == (index == 6 ? now.addingTimeInterval(300) : nil), "\(index)")
            }
            #expect(try await accounts.loginLockedUntil(phone: try MSISDN("+16285552000"), client: "192.0.2.99", now: now) == now.addingTimeInterval(300))
            #expect(try await accounts.loginLockedUntil(phone: try MSISDN("+16285552000"), client: "192.0.2.98", now: now) == nil)
            // Other numbers are untouched throughout.
            #expect(try await accounts.loginLockedUntil(phone: carol, client: "203.0.113.66", now: now) == nil)
        }
    }

    /// 40 codes asked for at once from one address, budget 10 per address: exactly 10 are queued and counted — each
    /// claim is one atomic upsert, and a refused one rolls back with its transaction. A new window starts afresh.
    static func codeBudgetsAreClaimedAtomically(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let budget = SMSCodeBudget(perClient: 10, perPrefix: 25, global: 30)
            let outcomes = await withTaskGroup(of: AccountError?.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let target = "+1415555\(String(format: "%04d", 1000 + index))"
                        do {
                            _ = try await accounts.issueCode(purpose: .register, target: target, accountID: nil, language: .english,
                                                             budget: budget.claims(client: "192.0.2.1", prefix: "+1415", now: now), now: now)
                            return nil
                        } catch {
                            return error as? AccountError
                        }
                    }
                }
                var outcomes: [AccountError?] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(outcomes.filter { $0 == nil }.count == 10)
            #expect(outcomes.filter { $0 == .codeBudgetSpent(.client) }.count == 30)
            #expect(try await outbox(fixture.database).filter { $0.eventName == "one_time_code" }.count == 10)
            let start = try #require(budget.claims(client: "192.0.2.1", prefix: "+1415", now: now).first).windowStart
            #expect(try await accounts.budgetUsed(subject: "client|192.0.2.1", windowStart: start) == 10)
            #expect(try await accounts.budgetUsed(subject: "prefix|+1415", windowStart: start) == 10)
            #expect(try await accounts.budgetUsed(subject: "global", windowStart: start) == 10)
            // Other addresses fill the prefix (25), then the global budget (30) stops a third prefix.
            for index in 0..<15 {
                _ = try await accounts.issueCode(purpose: .register, target: "+1415555\(2000 + index)", accountID: nil, language: .english,
                                                 budget: budget.claims(client: "198.51.100.\(index)", prefix: "+1415", now: now), now: now)
            }
            await #expect(throws: AccountError.codeBudgetSpent(.prefix)) {
                try await accounts.issueCode(purpose: .register, target: "+14155553000", accountID: nil, language: .english,
                                             budget: budget.claims(client: "198.51.100.200", prefix: "+1415", now: now), now: now)
            }
            for index in 0..<5 {
                _ = try await accounts.issueCode(purpose: .register, target: "+1628555\(2000 + index)", accountID: nil, language: .english,
                                                 budget: budget.claims(client: "203.0.113.\(index)", prefix: "+1628", now: now), now: now)
            }
            await #expect(throws: AccountError.codeBudgetSpent(.global)) {
                try await accounts.issueCode(purpose: .register, target: "+16285553000", accountID: nil, language: .english,
                                             budget: budget.claims(client: "203.0.113.200", prefix: "+1628", now: now), now: now)
            }
            // The next hour: every counter starts again.
            let nextHour = start.addingTimeInterval(3600)
            _ = try await accounts.issueCode(purpose: .register, target: "+14155554000", accountID: nil, language: .english,
                                             budget: budget.claims(client: "192.0.2.1", prefix: "+1415", now: nextHour), now: nextHour)
            #expect(try await accounts.budgetUsed(subject: "client|192.0.2.1", windowStart: nextHour) == 1)
            #expect(try await accounts.budgetUsed(subject: "global", windowStart: nextHour) == 1)
        }
    }

    /// Codes go to lines this operator serves: a line, a number in a configured prefix, or by default a number in the
    /// range (country code; +1 with its area code) of some line.
    static func servedNumbersAreLinesAndTheirRanges(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let standard = SMSDestinationRule()
            #expect(try await accounts.serves(alice, rule: standard))
            #expect(try await accounts.serves(try MSISDN("+14155559999"), rule: standard))
            #expect(try await !accounts.serves(try MSISDN("+18765550100"), rule: standard))   // Jamaica, +1 876
            #expect(try await !accounts.serves(try MSISDN("+88216123456"), rule: standard))
            #expect(try await !accounts.serves(try MSISDN("+224621234567"), rule: standard))
            #expect(try await !accounts.serves(try MSISDN("+447700900123"), rule: standard))
            let configured = try SMSDestinationRule(parsing: "+44, +1628")
            #expect(try await accounts.serves(try MSISDN("+447700900123"), rule: configured))
            #expect(try await accounts.serves(try MSISDN("+16285550100"), rule: configured))
            #expect(try await accounts.serves(alice, rule: configured))                        // a line, outside the prefixes
            #expect(try await !accounts.serves(try MSISDN("+14155559999"), rule: configured))  // no default range once configured
        }
    }

    /// Checking a code uses nothing up; a wrong one counts as an attempt like any other.
    static func checkingACodeLeavesItUsable(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let issued = try await accounts.issueCode(purpose: .register, target: alice.e164, accountID: nil, language: .english, now: now)
            #expect(try await accounts.checkCode(.register, target: alice.e164, accountID: nil, code: issued.code, now: now))
            #expect(try await accounts.checkCode(.register, target: alice.e164, accountID: nil, code: issued.code, now: now))
            #expect(try await !accounts.checkCode(.register, target: alice.e164, accountID: nil, code: wrong(issued.code), now: now))
            #expect(try await !accounts.checkCode(.passwordReset, target: alice.e164, accountID: nil, code: issued.code, now: now))
            let attempts = try await fixture.database.read { db in
                try await db.raw("SELECT attempts FROM verification_codes").first()!.decode(column: "attempts", as: Int.self)
            }
            #expect(attempts == 1)
            #expect(try await accounts.register(phone: alice, code: issued.code, passwordHash: hash, email: nil, language: .english, now: now).phone == alice)
            #expect(try await !accounts.checkCode(.register, target: alice.e164, accountID: nil, code: issued.code, now: now))
        }
    }

    static func linesNeedTheirCode(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            try await LedgerScenarios.open(fixture.ledger, bob)
            try await LedgerScenarios.open(fixture.ledger, carol)
            let a = try await register(fixture, alice)
            let b = try await register(fixture, bob)
            #expect(try await accounts.lines(accountID: b.id) == [bob])

            // A code sent to another line, or issued for another account, does not add this one.
            let carolCode = try await accounts.issueCode(purpose: .addLine, target: carol.e164, accountID: a.id, language: .english, now: now)
            #expect(try await outbox(fixture.database).last?.recipient == carol.e164)
            await #expect(throws: AccountError.codeInvalid) { try await accounts.addLine(accountID: b.id, msisdn: carol, code: carolCode.code, now: now) }
            let stray = try await accounts.issueCode(purpose: .addLine, target: bob.e164, accountID: a.id, language: .english, now: now)
            await #expect(throws: AccountError.lineTaken(bob.e164)) { try await accounts.addLine(accountID: a.id, msisdn: bob, code: stray.code, now: now) }
            await #expect(throws: RechargeError.lineNotFound("+14155550177")) {
                try await accounts.addLine(accountID: a.id, msisdn: try MSISDN("+14155550177"), code: stray.code, now: now)
            }
            await #expect(throws: AccountError.lineNotOnAccount(bob.e164)) { try await accounts.removeLine(accountID: a.id, msisdn: bob, now: now) }

            try await accounts.addLine(accountID: a.id, msisdn: carol, code: carolCode.code, now: now)
            // The refused attempt did not use up the code sent to bob: once bob leaves B, it adds bob to A.
            try await accounts.removeLine(accountID: b.id, msisdn: bob, now: now)
            #expect(try await accounts.lines(accountID: b.id) == [])
            try await accounts.addLine(accountID: a.id, msisdn: bob, code: stray.code, now: now)
            #expect(try await accounts.lines(accountID: a.id) == [alice, carol, bob])
            #expect(try await accounts.owns(accountID: a.id, msisdn: bob))
            #expect(try await !accounts.owns(accountID: b.id, msisdn: bob))
            await #expect(throws: AccountError.lineTaken(carol.e164)) { try await accounts.addLine(accountID: b.id, msisdn: carol, code: carolCode.code, now: now) }

            try await accounts.removeLine(accountID: a.id, msisdn: carol, now: now)
            #expect(try await accounts.lines(accountID: a.id) == [alice, bob])
        }
    }

    static func notifyPhoneReceivesTheLinesSMS(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let preferences = NotificationPreferencesStore(database: fixture.database)
            let account = try await register(fixture, alice)
            func sms(_ key: String) async throws -> [OutboxMessage] {
                try await outbox(fixture.database).filter { $0.eventKey == "op:\(key):top_up_applied" || $0.eventKey == "op:\(key):low_balance" }
            }
            try await LedgerScenarios.topUp(fixture.ledger, alice, "10.00", key: "t1")
            #expect(try await sms("t1").first { $0.channel == .sms }?.recipient == alice.e164)

            let code = try await accounts.issueCode(purpose: .changePhone, target: notifyPhone.e164, accountID: account.id, language: .english, now: now)
            let codeSMS = try #require(try await outbox(fixture.database).last)
            #expect(codeSMS.recipient == notifyPhone.e164 && codeSMS.channel == .sms)
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.changeNotifyPhone(accountID: account.id, phone: notifyPhone, code: wrong(code.code), now: now)
            }
            let changed = try await accounts.changeNotifyPhone(accountID: account.id, phone: notifyPhone, code: code.code, now: now)
            #expect(changed.notifyPhone == notifyPhone && changed.email == account.email && changed.language == account.language)
            let effective = try await preferences.preferences(alice)
            #expect(effective.smsPhone == notifyPhone.e164 && effective.smsEnabled && effective.emailEnabled && effective.email == "li@example.com")
            #expect(effective.lowBalanceThreshold == LedgerScenarios.usd("5.00") && effective.language == .simplifiedChinese)

            // Top-up and low-balance SMS of the line now go to the notification phone; email is unchanged.
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t2")
            let topUp = try await sms("t2")
            #expect(topUp.first { $0.channel == .sms }?.recipient == notifyPhone.e164)
            #expect(topUp.first { $0.channel == .email }?.recipient == "li@example.com")
            try await LedgerScenarios.debit(fixture.ledger, alice, money: "7.00", key: "d1")
            let low = try await outbox(fixture.database).filter { $0.eventKey == "op:d1:low_balance" }
            #expect(low.first { $0.channel == .sms }?.recipient == notifyPhone.e164)
            #expect(low.first { $0.channel == .sms }?.event == .lowBalance(balance: LedgerScenarios.usd("4.00"), threshold: LedgerScenarios.usd("5.00")))

            // So does a validity reminder.
            try await LedgerScenarios.grant(fixture.ledger, alice, .data, 1 << 30, days: 3, key: "g1")
            #expect(try await ReminderStore(database: fixture.database).scan(now: now).reminders == 1)
            let reminder = try await outbox(fixture.database).filter { $0.eventName == "validity_ending" }
            #expect(reminder.first { $0.channel == .sms }?.recipient == notifyPhone.e164)

            // A line added later follows the account's notification phone; a line taken off goes back to itself.
            try await LedgerScenarios.open(fixture.ledger, bob)
            let bobCode = try await accounts.issueCode(purpose: .addLine, target: bob.e164, accountID: account.id, language: .english, now: now)
            try await accounts.addLine(accountID: account.id, msisdn: bob, code: bobCode.code, now: now)
            #expect(try await preferences.preferences(bob).smsPhone == notifyPhone.e164)
            try await accounts.removeLine(accountID: account.id, msisdn: alice, now: now)
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t3")
            #expect(try await sms("t3").first { $0.channel == .sms }?.recipient == alice.e164)
            #expect(try await preferences.preferences(alice).smsPhone == nil)
        }
    }

    /// Issue 16, item 6: each line's SMS go to the line, another of the account's lines, or the verified notification
    /// phone; an unverified number or a line of someone else is refused and changes nothing.
    static func eachLineChoosesItsSMSNumber(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let preferences = NotificationPreferencesStore(database: fixture.database)
            let account = try await register(fixture, alice)
            try await LedgerScenarios.open(fixture.ledger, bob)
            try await LedgerScenarios.open(fixture.ledger, carol)
            let bobCode = try await accounts.issueCode(purpose: .addLine, target: bob.e164, accountID: account.id, language: .english, now: now)
            try await accounts.addLine(accountID: account.id, msisdn: bob, code: bobCode.code, now: now)
            func smsRecipient(_ key: String) async throws -> String? {
                try await outbox(fixture.database).first { $0.eventKey == "op:\(key):top_up_applied" && $0.channel == .sms }?.recipient
            }

            // Alice's SMS to Bob's line (both on the account): no code needed, the account holds both.
            #expect(try await accounts.setSMSNumber(accountID: account.id, line: alice, to: bob, now: now) == bob)
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "s1")
            #expect(try await smsRecipient("s1") == bob.e164)
            // Not verified yet, not on the account, a line not on the account: refused, nothing changed.
            await #expect(throws: AccountError.smsNumberNotVerified(notifyPhone.e164)) {
                try await accounts.setSMSNumber(accountID: account.id, line: alice, to: notifyPhone, now: now)
            }
            await #expect(throws: AccountError.smsNumberNotVerified(carol.e164)) {
                try await accounts.setSMSNumber(accountID: account.id, line: alice, to: carol, now: now)
            }
            await #expect(throws: AccountError.lineNotOnAccount(carol.e164)) {
                try await accounts.setSMSNumber(accountID: account.id, line: carol, to: carol, now: now)
            }
            #expect(try await preferences.preferences(alice).smsPhone == bob.e164)
            #expect(try await preferences.preferences(carol).smsPhone == nil)

            // Verified with a code (the existing path): then it may be chosen; each line can go back to itself.
            let code = try await accounts.issueCode(purpose: .changePhone, target: notifyPhone.e164, accountID: account.id, language: .english, now: now)
            _ = try await accounts.changeNotifyPhone(accountID: account.id, phone: notifyPhone, code: code.code, now: now)
            #expect(try await accounts.setSMSNumber(accountID: account.id, line: alice, to: notifyPhone, now: now) == notifyPhone)
            #expect(try await accounts.setSMSNumber(accountID: account.id, line: bob, to: bob, now: now) == nil)
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "s2")
            try await LedgerScenarios.topUp(fixture.ledger, bob, "1.00", key: "s3")
            #expect(try await smsRecipient("s2") == notifyPhone.e164)
            #expect(try await smsRecipient("s3") == bob.e164)

            // Taking Bob's line off the account sends Alice's SMS, which went there, back to Alice's line.
            _ = try await accounts.setSMSNumber(accountID: account.id, line: alice, to: bob, now: now)
            try await accounts.removeLine(accountID: account.id, msisdn: bob, now: now)
            #expect(try await preferences.preferences(alice).smsPhone == nil)
        }
    }

    static func emailChangeTellsOldAndNewAddress(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let account = try await register(fixture, alice, email: "li.wei@example.com")
            let other = try await register(fixture, bob)
            let code = try await accounts.issueCode(purpose: .changeEmail, target: "New@Example.com", accountID: account.id, language: .english, now: now)
            let codeMail = try #require(try await outbox(fixture.database).last)
            #expect(codeMail.channel == .email && codeMail.recipient == "New@Example.com" && codeMail.eventName == "one_time_code")
            await #expect(throws: AccountError.accountNotFound) {
                try await accounts.issueCode(purpose: .changeEmail, target: "x@example.com", accountID: account.id + 100, language: .english, now: now)
            }
            // Only this account may use it.
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.changeEmail(accountID: other.id, email: "new@example.com", code: code.code, now: now)
            }
            let changed = try await accounts.changeEmail(accountID: account.id, email: "new@example.com", code: code.code, now: now)
            #expect(changed.email == "new@example.com" && changed.phone == alice)
            #expect(try await accounts.account(id: account.id)?.email == "new@example.com")
            #expect(try await NotificationPreferencesStore(database: fixture.database).preferences(alice).email == "new@example.com")

            let notices = try await outbox(fixture.database).filter { $0.eventName == "contact_changed" }
            #expect(Set(notices.map(\.recipient)) == ["li.wei@example.com", "li@example.com", "new@example.com"], "\(notices.map(\.recipient))")
            #expect(notices.allSatisfy { $0.channel == .email && $0.event == .contactChanged(contactChannel: .email, maskedNewValue: "n***w@example.com") })
            #expect(notices.allSatisfy { $0.language == .simplifiedChinese })
            #expect(notices.allSatisfy { $0.eventKey.hasPrefix("account:\(account.id):email:") } && Set(notices.map(\.eventKey)).count == 3)
            // The line's email now: a top-up is mailed to the new address.
            try await LedgerScenarios.topUp(fixture.ledger, alice, "5.00", key: "t1")
            #expect(try await outbox(fixture.database).first { $0.eventKey == "op:t1:top_up_applied" && $0.channel == .email }?.recipient == "new@example.com")
            await #expect(throws: AccountError.codeInvalid) {
                try await accounts.changeEmail(accountID: account.id, email: "new@example.com", code: code.code, now: now)
            }
        }
    }

    static func languageAppliesToEveryLine(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let accounts = fixture.accounts
            let account = try await register(fixture, alice)
            #expect(account.language == .simplifiedChinese)
            let changed = try await accounts.setLanguage(accountID: account.id, language: .english, now: now)
            #expect(changed.language == .english && changed.id == account.id)
            #expect(try await accounts.account(id: account.id)?.language == .english)
            let effective = try await NotificationPreferencesStore(database: fixture.database).preferences(alice)
            #expect(effective.language == .english && effective.smsPhone == nil && effective.email == "li@example.com")
            try await LedgerScenarios.topUp(fixture.ledger, alice, "5.00", key: "t1")
            #expect(try await outbox(fixture.database).filter { $0.eventKey == "op:t1:top_up_applied" }.allSatisfy { $0.language == .english })
            await #expect(throws: AccountError.accountNotFound) { try await accounts.setLanguage(accountID: account.id + 100, language: .english, now: now) }
        }
    }
}

@Suite("Account store on SQLite")
struct AccountStoreOnSQLite {
    @Test func register() async throws { try await AccountStoreScenarios.registersWithTheSMSCode(.sqlite) }
    @Test func wrongCodes() async throws { try await AccountStoreScenarios.fiveWrongCodesKillTheCode(.sqlite) }
    @Test func expiredCodes() async throws { try await AccountStoreScenarios.expiredAndSupersededCodesAreRefused(.sqlite) }
    @Test func codeRateLimit() async throws { try await AccountStoreScenarios.sixthCodeInAnHourIsRefused(.sqlite) }
    @Test func concurrentRegistrations() async throws { try await AccountStoreScenarios.concurrentRegistrationsMakeOneAccount(.sqlite) }
    @Test func passwordReset() async throws { try await AccountStoreScenarios.passwordResetEndsSessions(.sqlite) }
    @Test func sessions() async throws { try await AccountStoreScenarios.sessionsExpireAndRenew(.sqlite) }
    @Test func loginThrottle() async throws { try await AccountStoreScenarios.loginThrottleGrowsAndResets(.sqlite) }
    @Test func lockoutsByNumberAndClient() async throws { try await AccountStoreScenarios.lockoutsAreKeyedByNumberAndClient(.sqlite) }
    @Test func smsNumberPerLine() async throws { try await AccountStoreScenarios.eachLineChoosesItsSMSNumber(.sqlite) }
    @Test func codeBudgets() async throws { try await AccountStoreScenarios.codeBudgetsAreClaimedAtomically(.sqlite) }
    @Test func servedNumbers() async throws { try await AccountStoreScenarios.servedNumbersAreLinesAndTheirRanges(.sqlite) }
    @Test func checkCode() async throws { try await AccountStoreScenarios.checkingACodeLeavesItUsable(.sqlite) }
    @Test func lines() async throws { try await AccountStoreScenarios.linesNeedTheirCode(.sqlite) }
    @Test func notifyPhone() async throws { try await AccountStoreScenarios.notifyPhoneReceivesTheLinesSMS(.sqlite) }
    @Test func email() async throws { try await AccountStoreScenarios.emailChangeTellsOldAndNewAddress(.sqlite) }
    @Test func language() async throws { try await AccountStoreScenarios.languageAppliesToEveryLine(.sqlite) }
}

@Suite("Account store on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct AccountStoreOnPostgres {
    @Test func register() async throws { try await AccountStoreScenarios.registersWithTheSMSCode(.postgres) }
    @Test func wrongCodes() async throws { try await AccountStoreScenarios.fiveWrongCodesKillTheCode(.postgres) }
    @Test func expiredCodes() async throws { try await AccountStoreScenarios.expiredAndSupersededCodesAreRefused(.postgres) }
    @Test func codeRateLimit() async throws { try await AccountStoreScenarios.sixthCodeInAnHourIsRefused(.postgres) }
    @Test func concurrentRegistrations() async throws { try await AccountStoreScenarios.concurrentRegistrationsMakeOneAccount(.postgres) }
    @Test func passwordReset() async throws { try await AccountStoreScenarios.passwordResetEndsSessions(.postgres) }
    @Test func sessions() async throws { try await AccountStoreScenarios.sessionsExpireAndRenew(.postgres) }
    @Test func loginThrottle() async throws { try await AccountStoreScenarios.loginThrottleGrowsAndResets(.postgres) }
    @Test func lockoutsByNumberAndClient() async throws { try await AccountStoreScenarios.lockoutsAreKeyedByNumberAndClient(.postgres) }
    @Test func smsNumberPerLine() async throws { try await AccountStoreScenarios.eachLineChoosesItsSMSNumber(.postgres) }
    @Test func codeBudgets() async throws { try await AccountStoreScenarios.codeBudgetsAreClaimedAtomically(.postgres) }
    @Test func servedNumbers() async throws { try await AccountStoreScenarios.servedNumbersAreLinesAndTheirRanges(.postgres) }
    @Test func checkCode() async throws { try await AccountStoreScenarios.checkingACodeLeavesItUsable(.postgres) }
    @Test func lines() async throws { try await AccountStoreScenarios.linesNeedTheirCode(.postgres) }
    @Test func notifyPhone() async throws { try await AccountStoreScenarios.notifyPhoneReceivesTheLinesSMS(.postgres) }
    @Test func email() async throws { try await AccountStoreScenarios.emailChangeTellsOldAndNewAddress(.postgres) }
    @Test func language() async throws { try await AccountStoreScenarios.languageAppliesToEveryLine(.postgres) }
}
