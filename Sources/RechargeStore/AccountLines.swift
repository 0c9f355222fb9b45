import Foundation
import RechargeCore
import SQLKit

/// The lines of an account, and the contacts and language their notices use. Each contact or language change
/// applies to every line on the account: its `notification_preferences` row is inserted (with the defaults)
/// where missing and updated.
extension AccountStore {
    /// The account's lines, in the order they were added.
    public func lines(accountID: Int64) async throws -> [MSISDN] {
        try await database.read { db in
            try await db.raw("SELECT msisdn FROM account_lines WHERE account_id = \(bind: accountID) ORDER BY id").all()
                .map { try MSISDN(try $0.string("msisdn")) }
        }
    }

    public func owns(accountID: Int64, msisdn: MSISDN) async throws -> Bool {
        try await database.read { db in
            try await db.raw("SELECT id FROM account_lines WHERE account_id = \(bind: accountID) AND msisdn = \(bind: msisdn.e164)").first() != nil
        }
    }

    /// Whether `msisdn` is a line that no account holds: the only numbers an add-line code is texted to.
    public func isUnheldLine(_ msisdn: MSISDN) async throws -> Bool {
        try await database.read { db in
            try await db.raw("""
                SELECT id FROM lines WHERE msisdn = \(bind: msisdn.e164)
                AND NOT EXISTS (SELECT 1 FROM account_lines WHERE account_lines.msisdn = lines.msisdn)
                """).first() != nil
        }
    }

    /// Adds a line with the add-line code sent to it for this account. The line must exist
    /// (``RechargeError/lineNotFound(_:)``) and be on no account (``AccountError/lineTaken(_:)``, checked before
    /// the code is looked at, so the code stays usable). Its SMS notices then go to the account's notification
    /// phone, when it has one.
    public func addLine(accountID: Int64, msisdn: MSISDN, code: String, now: Date) async throws {
        let forUpdate = database.forUpdate
        let checked = try await database.transaction { db -> Checked<Void> in
            // The line row is locked: two accounts adding one line are decided one after the other.
            guard let line = try await db.raw("SELECT id FROM lines WHERE msisdn = \(bind: msisdn.e164)\(unsafeRaw: forUpdate)").first() else {
                throw RechargeError.lineNotFound(msisdn.e164)
            }
            let lineID = try line.int64("id")
            if let owner = try await db.raw("SELECT account_id FROM account_lines WHERE msisdn = \(bind: msisdn.e164)").first() {
                // Already on this account: nothing to do (and the code stays unused).
                if try owner.int64("account_id") == accountID { return .done(()) }
                throw AccountError.lineTaken(msisdn.e164)
            }
            guard try await Self.consumeCode(.addLine, target: msisdn.e164, accountID: accountID, code: code, now: now, forUpdate: forUpdate, in: db) != nil else {
                return .refused
            }
            guard let account = try await Self.loadAccount(accountID, in: db) else { throw AccountError.accountNotFound }
            try await db.raw("""
                INSERT INTO account_lines (msisdn, account_id, added_at) VALUES (\(bind: msisdn.e164), \(bind: accountID), \(bind: now.unixMicros))
                """).run()
            if let notifyPhone = account.notifyPhone {
                try await db.raw("""
                    INSERT INTO notification_preferences (line_id, sms_phone, updated_at) VALUES (\(bind: lineID), \(bind: notifyPhone.e164), \(bind: now.unixMicros))
                    ON CONFLICT (line_id) DO UPDATE SET sms_phone = excluded.sms_phone, updated_at = excluded.updated_at
                    """).run()
            }
            return .done(())
        }
        try checked.get()
    }

    /// Takes the line off the account; its SMS notices go to the line itself again, and so do those of the account's
    /// other lines that were sent to it (``setSMSNumber(accountID:line:to:now:)``): a number no longer on the account
    /// is no longer one the account holds, and may soon be someone else's.
    public func removeLine(accountID: Int64, msisdn: MSISDN, now: Date) async throws {
        try await database.transaction { db in
            guard try await db.raw("""
                DELETE FROM account_lines WHERE account_id = \(bind: accountID) AND msisdn = \(bind: msisdn.e164) RETURNING msisdn
                """).first() != nil else { throw AccountError.lineNotOnAccount(msisdn.e164) }
            try await db.raw("""
                UPDATE notification_preferences SET sms_phone = NULL, updated_at = \(bind: now.unixMicros)
                WHERE line_id = (SELECT id FROM lines WHERE msisdn = \(bind: msisdn.e164)) AND sms_phone IS NOT NULL
                """).run()
            try await db.raw("""
                UPDATE notification_preferences SET sms_phone = NULL, updated_at = \(bind: now.unixMicros)
                WHERE sms_phone = \(bind: msisdn.e164) AND line_id IN (
                    SELECT l.id FROM account_lines al JOIN lines l ON l.msisdn = al.msisdn WHERE al.account_id = \(bind: accountID))
                  AND sms_phone <> COALESCE((SELECT notify_phone FROM accounts WHERE id = \(bind: accountID)), '')
                """).run()
        }
    }

    /// Consumes the change-email code sent to `email` for this account; the account and each of its lines then
    /// use `email`. The old addresses and the new one are told (`contact_changed`) like
    /// ``NotificationPreferencesStore/replace(_:with:now:)`` does.
    public func changeEmail(accountID: Int64, email: String, code: String, now: Date) async throws -> Account {
        try NotificationPreferences.validate(email: email)
        let forUpdate = database.forUpdate
        let checked = try await database.transaction { db -> Checked<Account> in
            guard let codeID = try await Self.consumeCode(.changeEmail, target: email, accountID: accountID, code: code, now: now, forUpdate: forUpdate, in: db) else {
                return .refused
            }
            guard let before = try await Self.loadAccount(accountID, lock: forUpdate, in: db) else { throw AccountError.accountNotFound }
            let lineIDs = try await Self.lineIDs(accountID, lock: forUpdate, in: db)
            let contacts = try await NotificationContactRow.load(lineIDs: lineIDs, in: db)
            var oldAddresses: [String] = []
            for address in [before.email] + lineIDs.map({ contacts[$0]?.contact.email }) {
                guard let address, address.lowercased() != email.lowercased(),
                      !oldAddresses.contains(where: { $0.lowercased() == address.lowercased() }) else { continue }
                oldAddresses.append(address)
            }
            let changed = !oldAddresses.isEmpty || before.email?.lowercased() != email.lowercased()
            try await db.raw("""
                UPDATE accounts SET email = \(bind: email), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: accountID)
                """).run()
            try await Self.setLinePreference("email", to: email, accountID: accountID, bumpingEmailVersion: true, now: now, in: db)
            if changed {
                let notices = NotificationPreferencesStore.emailChangedNotices(
                    eventKey: "account:\(accountID):email:\(codeID)", oldAddresses: oldAddresses, newAddress: email, language: before.language)
                try await OutboxStore.enqueue(notices, now: now, in: db)
            }
            guard let after = try await Self.loadAccount(accountID, in: db) else { throw AccountError.accountNotFound }
            return .done(after)
        }
        return try checked.get()
    }

    /// Consumes the change-phone code sent to `phone` for this account; SMS notices of each of its lines then go
    /// to `phone`.
    public func changeNotifyPhone(accountID: Int64, phone: MSISDN, code: String, now: Date) async throws -> Account {
        let forUpdate = database.forUpdate
        let checked = try await database.transaction { db -> Checked<Account> in
            guard try await Self.consumeCode(.changePhone, target: phone.e164, accountID: accountID, code: code, now: now, forUpdate: forUpdate, in: db) != nil else {
                return .refused
            }
            guard let row = try await db.raw("""
                UPDATE accounts SET notify_phone = \(bind: phone.e164), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: accountID)
                RETURNING \(unsafeRaw: Self.accountColumns)
                """).first() else { throw AccountError.accountNotFound }
            try await Self.setLinePreference("sms_phone", to: phone.e164, accountID: accountID, now: now, in: db)
            return .done(try Self.decodeAccount(row))
        }
        return try checked.get()
    }

    /// The number that receives `line`'s SMS notices: the line itself, another of the account's lines, or its
    /// verified notification phone (``SMSNoticeDestination``); anything else is refused and changes nothing. Returns
    /// what is stored (nil: the line itself). The account row is locked, so a change of the notification phone
    /// cannot pass between the check and the write.
    public func setSMSNumber(accountID: Int64, line: MSISDN, to target: MSISDN, now: Date) async throws -> MSISDN? {
        let forUpdate = database.forUpdate
        return try await database.transaction { db in
            guard let account = try await Self.loadAccount(accountID, lock: forUpdate, in: db) else { throw AccountError.accountNotFound }
            let lines = try await db.raw("SELECT msisdn FROM account_lines WHERE account_id = \(bind: accountID) ORDER BY id").all()
                .map { try MSISDN(try $0.string("msisdn")) }
            let stored = try SMSNoticeDestination.resolve(target, line: line, accountLines: lines, verifiedPhone: account.notifyPhone)
            try await db.raw("""
                INSERT INTO notification_preferences (line_id, sms_phone, updated_at)
                SELECT id, \(bind: stored?.e164), \(bind: now.unixMicros) FROM lines WHERE msisdn = \(bind: line.e164)
                ON CONFLICT (line_id) DO UPDATE SET sms_phone = excluded.sms_phone, updated_at = excluded.updated_at
                """).run()
            return stored
        }
    }

    /// The account's language, and the language of each of its lines' notices.
    public func setLanguage(accountID: Int64, language: NotificationLanguage, now: Date) async throws -> Account {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE accounts SET language = \(bind: language.rawValue), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: accountID)
                RETURNING \(unsafeRaw: Self.accountColumns)
                """).first() else { throw AccountError.accountNotFound }
            try await Self.setLinePreference("language", to: language.rawValue, accountID: accountID, now: now, in: db)
            return try Self.decodeAccount(row)
        }
    }

    static func lineIDs(_ accountID: Int64, lock: String, in db: any SQLDatabase) async throws -> [Int64] {
        let ofLines = lock.isEmpty ? "" : "\(lock) OF l"
        return try await db.raw("""
            SELECT l.id FROM account_lines al JOIN lines l ON l.msisdn = al.msisdn WHERE al.account_id = \(bind: accountID) ORDER BY l.id\(unsafeRaw: ofLines)
            """).all().map { try $0.int64("id") }
    }

    /// Sets one column of `notification_preferences` on every line of the account, inserting a row with the
    /// defaults where a line has none. `column` is one of this file's literals, never input.
    static func setLinePreference(_ column: String, to value: String, accountID: Int64, bumpingEmailVersion: Bool = false, now: Date,
                                  in db: any SQLDatabase) async throws {
        let version = bumpingEmailVersion ? ", email_version = notification_preferences.email_version + 1" : ""
        try await db.raw("""
            INSERT INTO notification_preferences (line_id, \(unsafeRaw: column), email_version, updated_at)
            SELECT l.id, \(bind: value), \(bind: bumpingEmailVersion ? 1 : 0), \(bind: now.unixMicros)
            FROM account_lines al JOIN lines l ON l.msisdn = al.msisdn
            WHERE al.account_id = \(bind: accountID)
            ON CONFLICT (line_id) DO UPDATE SET \(unsafeRaw: column) = excluded.\(unsafeRaw: column), updated_at = excluded.updated_at\(unsafeRaw: version)
            """).run()
    }
}
