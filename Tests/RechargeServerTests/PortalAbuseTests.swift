import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RechargeCore
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// What an anonymous request may cost: texted codes (SMS pumping), bcrypt work, lockouts of other people's
/// numbers, what "add a line" tells, and oversized forms.
@Suite("Portal: abuse")
struct PortalAbuseTests {
    /// Numbers no line of the operator is in: other countries, and +1 ranges outside the lines' area codes
    /// (Jamaica, Antigua, the Turks and Caicos: favourites of SMS pumping), international networks (+882).
    static let foreignPrefixes = ["+44", "+49", "+33", "+882", "+224", "+91", "+234", "+7", "+252", "+371", "+1876", "+1268", "+1649", "+1212"]

    static func randomForeignNumber() -> String {
        let prefix = foreignPrefixes.randomElement()!
        let length = prefix.hasPrefix("+1") ? 11 : Int.random(in: 10...12)
        var number = prefix + String(Int.random(in: 2...9))
        while number.count - 1 < length { number += String(Int.random(in: 0...9)) }
        return number
    }

    /// The same page for every answer: the verify page's address with the number taken out.
    static func shape(_ response: TestResponse, _ phone: String) -> String {
        "\(response.status.code) \(response.headers[.location]?.replacingOccurrences(of: PortalForm.encode(phone), with: "N") ?? "")"
    }

    @Test func registrationsForForeignNumbersQueueNoSMS() async throws {
        try await PortalHarness.run { portal in
            let shapes = try await withThrowingTaskGroup(of: Set<String>.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        let visitor = portal.visitor()
                        try await visitor.get("/register")
                        var shapes: Set<String> = []
                        for _ in 0..<100 {
                            let phone = Self.randomForeignNumber()
                            shapes.insert(Self.shape(try await visitor.post("/register", ["phone": phone]), try MSISDN(phone).e164))
                        }
                        return shapes
                    }
                }
                return try await group.reduce(into: Set<String>()) { $0.formUnion($1) }
            }
            #expect(try await portal.codesQueued() == 0)
            #expect(portal.metric("portal_sms_destination_refused_total") == 1000)
            // Every answer is the one a served number gets.
            let served = portal.visitor()
            try await served.get("/register")
            let answer = try await served.post("/register", ["phone": "+14155550100"])
            #expect(shapes == [Self.shape(answer, "+14155550100")])
            #expect(try await portal.codesQueued() == 1)
        }
    }

    @Test func registrationsFromOneAddressQueueAtMostItsBudget() async throws {
        try await PortalHarness.run { portal in
            let now = PortalHarness.now
            var lines: [String] = []
            for index in 0..<50 {
                let msisdn = try MSISDN("+1628555\(1000 + index)")
                _ = try await portal.services.ledger.openLine(
                    try OpenLineCommand(msisdn: msisdn, iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil, subscriber: nil), now: now)
                lines.append(msisdn.e164)
            }
            let visitor = portal.visitor(address: "198.51.100.23")
            try await visitor.get("/register")
            var shapes: Set<String> = []
            for line in lines { shapes.insert(Self.shape(try await visitor.post("/register", ["phone": line]), line)) }
            let limit = SMSCodeBudget().perClient
            #expect(try await portal.codesQueued() == limit)
            #expect(portal.metric(#"portal_sms_budget_tripped_total{budget="client"}"#) == 50 - limit)
            // No oracle: the codes withheld were answered like the codes sent.
            #expect(shapes.count == 1)
            // Another address is not held back by this one.
            let other = portal.visitor(address: "198.51.100.24")
            try await other.get("/register")
            try await other.post("/register", ["phone": lines[49]])
            #expect(try await portal.code(to: lines[49]) != nil)
        }
    }

    /// Many addresses, one code each: the global budget stops them, answering alike; the reset path is held to the
    /// same destination rule (an account on a number this operator does not serve gets no code).
    @Test func theGlobalBudgetAndTheResetPathHoldToo() async throws {
        let configuration = PortalHarness.configuration { $0.smsBudget = SMSCodeBudget(perClient: 10, perPrefix: 1000, global: 20) }
        try await PortalHarness.run(portal: configuration) { portal in
            var shapes: Set<String> = []
            for index in 0..<30 {
                let visitor = portal.visitor()
                try await visitor.get("/register")
                let phone = "+1415555\(2000 + index)"
                shapes.insert(Self.shape(try await visitor.post("/register", ["phone": phone]), phone))
            }
            #expect(try await portal.codesQueued() == 20)
            #expect(portal.metric(#"portal_sms_budget_tripped_total{budget="global"}"#) == 10)
            #expect(shapes.count == 1)
        }
        try await PortalHarness.run { portal in
            let accounts = portal.services.accounts
            let foreign = try MSISDN("+447700900123")
            let issued = try await accounts.issueCode(purpose: .register, target: foreign.e164, accountID: nil, language: .english, now: PortalHarness.now)
            _ = try await accounts.register(phone: foreign, code: issued.code, passwordHash: "x", email: nil, language: .english, now: PortalHarness.now)
            let before = try await portal.codesQueued()
            let visitor = portal.visitor()
            try await visitor.get("/reset")
            let reset = try await visitor.post("/reset", ["phone": foreign.e164])
            #expect(reset.headers[.location] == "/reset/verify?phone=%2B447700900123")
            #expect(try await portal.codesQueued() == before)
        }
    }

    @Test func junkLoginsCostNoBcryptAndLeaveNoRow() async throws {
        try await PortalHarness.run { portal in
            let statuses = try await withThrowingTaskGroup(of: [HTTPResponse.Status].self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        let visitor = portal.visitor()
                        try await visitor.get("/login")
                        var statuses: [HTTPResponse.Status] = []
                        for _ in 0..<20 {
                            let junk = String((0..<Int.random(in: 1...30)).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789+-_ ".randomElement()! })
                            statuses.append(try await visitor.post("/login", ["phone": "x" + junk, "password": "whatever it is"]).status)
                        }
                        return statuses
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0 += $1 }
            }
            #expect(statuses.count == 200 && statuses.allSatisfy { $0 == .badRequest })
            #expect(portal.services.passwords.runs == 0)
            #expect(try await portal.loginFailureRows() == 0)
            // A real number still costs its bcrypt (the dummy hash, then the check).
            let visitor = portal.visitor()
            try await visitor.get("/login")
            #expect(try await visitor.post("/login", ["phone": "+14155550177", "password": "wrong password"]).status == .ok)
            #expect(portal.services.passwords.runs == 2)
        }
    }

    /// Valid numbers are fresh keys too: one address trying a new number each time is stopped by its own count
    /// across numbers, so what it can make the server hash is bounded.
    @Test func aFreshNumberEachTimeIsBoundedPerAddress() async throws {
        let configuration = PortalHarness.configuration { $0.loginLockout.perAddress.threshold = 10 }
        try await PortalHarness.run(portal: configuration) { portal in
            let visitor = portal.visitor(address: "192.0.2.77")
            try await visitor.get("/login")
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<30 {
                statuses.append(try await visitor.post("/login", ["phone": "+1415555\(3000 + index)", "password": "wrong password"]).status)
            }
            #expect(statuses.prefix(9).allSatisfy { $0 == .ok })
            #expect(statuses.dropFirst(9).allSatisfy { $0 == .tooManyRequests })
            #expect(portal.services.passwords.runs == 10)   // nine checks and the dummy hash they share
            let other = portal.visitor(address: "192.0.2.78")
            try await other.get("/login")
            #expect(try await other.post("/login", ["phone": "+14155553000", "password": "wrong password"]).status == .ok)
        }
    }

    @Test func codesAreCheckedBeforeANewPasswordIsHashed() async throws {
        try await PortalHarness.run { portal in
            let visitor = portal.visitor()
            try await visitor.get("/register")
            try await visitor.post("/register", ["phone": "+14155550100"])
            let code = try #require(try await portal.code(to: "+14155550100"))
            let wrong = code == "000000" ? "000001" : "000000"
            #expect(try await visitor.post("/register/verify", ["phone": "+14155550100", "code": wrong, "password": "correct horse 1"]).status == .unprocessableContent)
            try await visitor.get("/reset")
            try await visitor.post("/reset", ["phone": "+14155550101"])
            #expect(try await visitor.post("/reset/verify", ["phone": "+14155550101", "code": wrong, "password": "correct horse 1"]).status == .unprocessableContent)
            #expect(portal.services.passwords.runs == 0)
            #expect(try await visitor.post("/register/verify", ["phone": "+14155550100", "code": code, "password": "correct horse 1"]).status == .seeOther)
            #expect(portal.services.passwords.runs == 1)
        }
    }

    /// A full queue answers at once: 429, `Retry-After`, the localized page.
    @Test func aFullBcryptQueueAnswers429() async throws {
        let configuration = PortalHarness.configuration { $0.bcryptConcurrency = 1; $0.bcryptWaiting = 0 }
        try await PortalHarness.run(portal: configuration) { portal in
            let release = AsyncStream<Void>.makeStream()
            let started = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await portal.services.passwords.run {
                    started.continuation.yield()
                    // Holds the only slot until the test lets go (a bcrypt that never ends, as far as the queue knows).
                    let semaphore = DispatchSemaphore(value: 0)
                    Task { for await _ in release.stream { break }; semaphore.signal() }
                    semaphore.wait()
                    return true
                }
            }
            for await _ in started.stream { break }
            let visitor = portal.visitor(acceptLanguage: "zh-CN")
            try await visitor.get("/login")
            let busy = try await visitor.post("/login", ["phone": "+14155550177", "password": "wrong password"])
            #expect(busy.status == .tooManyRequests)
            #expect((busy.headers[.retryAfter].flatMap(Int.init) ?? 0) >= 1)
            #expect(busy.html.contains("当前登录的人数过多"))
            #expect(portal.services.passwords.refusals == 1)
            release.continuation.yield()
            #expect(try await holder.value)
        }
    }

    @Test func aQueueRunsAtMostItsConcurrencyAndRefusesPastItsLine() async throws {
        let queue = BcryptQueue(concurrency: 2, waiting: 3)
        let peak = PeakCounter()
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        return try await queue.run {
                            peak.enter()
                            Thread.sleep(forTimeInterval: 0.05)
                            peak.leave()
                            return true
                        }
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(peak.highest <= 2)
        #expect(outcomes.filter { $0 }.count == queue.runs)
        #expect(queue.runs + queue.refusals == 20)
        #expect(queue.runs >= 5)       // two running and three waiting were admitted at least
        #expect(queue.refusals >= 1)
    }

    final class PeakCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var current = 0
        private(set) var highest = 0
        func enter() { lock.withLock { current += 1; highest = max(highest, current) } }
        func leave() { lock.withLock { current -= 1 } }
    }

    @Test func aStrangersFailuresDoNotLockTheOwnerOut() async throws {
        let configuration = PortalHarness.configuration { $0.loginLockout.perNumber.threshold = 12 }
        try await PortalHarness.run(portal: configuration) { portal in
            _ = try await portal.signUp("+14155550100")
            let stranger = portal.visitor(address: "203.0.113.66")
            try await stranger.get("/login")
            var answers: [HTTPResponse.Status] = []
            for _ in 0..<6 { answers.append(try await stranger.post("/login", ["phone": "+14155550100", "password": "guess guess"]).status) }
            #expect(answers.suffix(2) == [.tooManyRequests, .tooManyRequests])
            let owner = portal.visitor(address: "198.51.100.7")
            try await owner.get("/login")
            #expect(try await owner.post("/login", ["phone": "+14155550100", "password": "correct horse 1"]).status == .seeOther)

            // Guesses from many addresses reach the number's own ceiling (12 here): everyone waits, the owner too…
            for index in 0..<8 {
                let guesser = portal.visitor(address: "203.0.113.\(index)")
                try await guesser.get("/login")
                try await guesser.post("/login", ["phone": "+14155550100", "password": "guess guess"])
            }
            let locked = portal.visitor(address: "198.51.100.8")
            try await locked.get("/login")
            let refused = try await locked.post("/login", ["phone": "+14155550100", "password": "correct horse 1"])
            #expect(refused.status == .tooManyRequests)
            #expect(refused.html.contains(#"href="/reset""#))
            // …until the owner gets in with a code texted to the number.
            try await locked.get("/reset")
            try await locked.post("/reset", ["phone": "+14155550100"])
            let code = try #require(try await portal.code(to: "+14155550100"))
            let reset = try await locked.post("/reset/verify", ["phone": "+14155550100", "code": code, "password": "a new horse 2"])
            #expect(reset.status == .seeOther)
            #expect(try await locked.post("/login", ["phone": "+14155550100", "password": "a new horse 2"]).status == .seeOther)
            // The stranger's own lock stayed.
            #expect(try await stranger.post("/login", ["phone": "+14155550100", "password": "a new horse 2"]).status == .tooManyRequests)
        }
    }

    /// Whether a number is an operator line, and whether another account holds it, shows nowhere: the same
    /// redirect, the same code page and the same refusal of a code for every number.
    @Test func addingALineAnswersAlikeForEveryNumber() async throws {
        try await PortalHarness.run { portal in
            _ = try await portal.signUp("+14155550100")
            let me = try await portal.signUp("+14155550102")
            func journey(_ number: String) async throws -> [String] {
                try await me.get("/settings")
                let start = try await me.post("/settings/lines", ["msisdn": number])
                let page = try await me.get(try #require(start.headers[.location]))
                let wrong = try await me.post("/settings/lines/verify", ["msisdn": number, "code": "000000"])
                let strip = { (html: String) in html.replacingOccurrences(of: me.csrf, with: "").replacingOccurrences(of: number, with: "N")
                    .replacingOccurrences(of: PortalController.masked(phone: number), with: "M") }
                return [Self.shape(start, number), "\(page.status.code)", strip(page.html), "\(wrong.status.code)", strip(wrong.html)]
            }
            let free = try await journey("+14155550101")         // a line no account holds: it gets a code
            let held = try await journey("+14155550100")         // the other account's line
            let unknown = try await journey("+14155559999")      // no line at all
            #expect(free == held)
            #expect(free == unknown)
            #expect(try await portal.code(to: "+14155559999") == nil)
        }
    }

    @Test func anOversizedFormIs413WithTheLocalizedPage() async throws {
        try await PortalHarness.run { portal in
            for (language, words) in [("en", "The form sent was too large"), ("zh-CN", "提交的表单过大")] {
                let visitor = portal.visitor(acceptLanguage: language)
                try await visitor.get("/login")
                let answer = try await visitor.post("/login", ["phone": "+14155550100", "password": String(repeating: "a", count: 20 * 1024)])
                #expect(answer.status == .contentTooLarge)
                #expect(answer.html.contains(words))
                #expect(answer.headers[.contentType] == "text/html; charset=utf-8")
            }
            #expect(portal.services.passwords.runs == 0)
        }
    }
}

@Suite("Portal: client addresses and settings")
struct PortalClientAddressTests {
    static func peer(_ text: String) -> SocketAddress { try! SocketAddress(ipAddress: text, port: 40000) }

    @Test func forwardedForIsIgnoredUnlessThePeerIsATrustedProxy() {
        let none = ClientAddressRule()
        #expect(none.client(peer: Self.peer("192.0.2.10"), forwardedFor: ["203.0.113.5"]) == "192.0.2.10")
        #expect(none.client(peer: nil, forwardedFor: ["203.0.113.5"]) == "127.0.0.1")
        let proxied = ClientAddressRule(trustedProxies: [IPAddressRange("10.0.0.0/8")!, IPAddressRange("::1")!])
        #expect(proxied.client(peer: Self.peer("10.1.2.3"), forwardedFor: ["203.0.113.5"]) == "203.0.113.5")
        // What the client wrote left of the address the proxy appended is never read.
        #expect(proxied.client(peer: Self.peer("10.1.2.3"), forwardedFor: ["1.1.1.1, 203.0.113.5, 10.9.9.9"]) == "203.0.113.5")
        #expect(proxied.client(peer: Self.peer("10.1.2.3"), forwardedFor: ["1.1.1.1", "203.0.113.5:5555"]) == "203.0.113.5")
        #expect(proxied.client(peer: Self.peer("10.1.2.3"), forwardedFor: ["junk, 203.0.113.5"]) == "203.0.113.5")
        #expect(proxied.client(peer: Self.peer("192.0.2.10"), forwardedFor: ["203.0.113.5"]) == "192.0.2.10")
        #expect(proxied.client(peer: Self.peer("::1"), forwardedFor: ["[2001:db8:1:2:3:4:5:6]:443"]) == "2001:db8:1:2::/64")
        // An IPv6 client is counted by its /64; an IPv4-mapped address is the IPv4 address.
        #expect(none.client(peer: Self.peer("2001:db8:aa:bb::1"), forwardedFor: []) == "2001:db8:aa:bb::/64")
        #expect(none.client(peer: Self.peer("2001:db8:aa:bb:ffff::9"), forwardedFor: []) == "2001:db8:aa:bb::/64")
        #expect(IPAddress("::ffff:192.0.2.1")?.clientKey == "192.0.2.1")
        #expect(IPAddressRange("10.0.0.0/33") == nil && IPAddressRange("nope") == nil)
        #expect(IPAddressRange("192.168.0.0/16")!.contains(IPAddress("192.168.200.1")!))
        #expect(!IPAddressRange("192.168.0.0/17")!.contains(IPAddress("192.168.200.1")!))
    }

    @Test func limitsAreReadFromTheEnvironment() throws {
        let portal = try PortalConfiguration().applying(environment: [
            "RECHARGE_PORTAL_BCRYPT_CONCURRENCY": "3", "RECHARGE_PORTAL_BCRYPT_QUEUE": "7", "RECHARGE_PORTAL_SMS_PREFIXES": "+44, +1628",
            "RECHARGE_PORTAL_SMS_PER_CLIENT": "4", "RECHARGE_PORTAL_SMS_PER_PREFIX": "40", "RECHARGE_PORTAL_SMS_PER_HOUR": "400",
            "RECHARGE_PORTAL_LOGIN_FAILURES_PER_CLIENT": "6", "RECHARGE_PORTAL_LOGIN_FAILURES_PER_NUMBER": "80",
            "RECHARGE_PORTAL_LOGIN_FAILURES_PER_ADDRESS": "300",
            "RECHARGE_PORTAL_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
        ])
        #expect(portal.bcryptConcurrency == 3 && portal.bcryptWaiting == 7)
        #expect(portal.smsDestinations.prefixes == ["+44", "+1628"])
        #expect(portal.smsBudget == SMSCodeBudget(perClient: 4, perPrefix: 40, global: 400))
        #expect(portal.loginLockout.perClient.threshold == 6 && portal.loginLockout.perNumber.threshold == 80)
        #expect(portal.loginLockout.perAddress.threshold == 300)
        #expect(portal.clientAddresses.trustedProxies.map(\.description) == ["127.0.0.1", "10.0.0.0/8"])
        let defaults = try PortalConfiguration().applying(environment: [:])
        #expect(defaults.bcryptConcurrency == ProcessInfo.processInfo.activeProcessorCount)
        #expect(defaults.smsDestinations.prefixes == nil && defaults.clientAddresses.trustedProxies.isEmpty)
        #expect(defaults.smsBudget == SMSCodeBudget(perClient: 10, perPrefix: 300, global: 1000))
        #expect(throws: PortalConfigurationError.self) { try PortalConfiguration().applying(environment: ["RECHARGE_PORTAL_SMS_PER_HOUR": "lots"]) }
        #expect(throws: PortalConfigurationError.self) { try PortalConfiguration().applying(environment: ["RECHARGE_PORTAL_TRUSTED_PROXIES": "everyone"]) }
        #expect(throws: PortalConfigurationError.self) { try PortalConfiguration().applying(environment: ["RECHARGE_PORTAL_SMS_PREFIXES": "44"]) }
    }
}
