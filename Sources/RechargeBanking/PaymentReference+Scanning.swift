extension PaymentReference {
    /// Every valid RF reference written inside free text such as a remittance line
    /// (`"Payment RF18 5390 0754 7034 thanks"`), in order of appearance, without duplicates.
    ///
    /// Payers put the reference anywhere, split it into groups, or write a word right after it. A reading
    /// may end only where the payer's own text has a break (a separator or a non-alphanumeric character),
    /// never at an arbitrary cut. Even so one occurrence can have two valid readings: whether appending a
    /// word keeps mod 97 at 1 depends only on the check digits and the word, so about one reference in 97
    /// "absorbs" a given trailing word. Such occurrences yield every valid reading, longest first, and the
    /// caller's store (which knows which references it issued) decides, as ``StatementMatcher`` does.
    public static func references(in text: String) -> [PaymentReference] {
        let scalars = Array(text.unicodeScalars)
        var found: [PaymentReference] = []
        var index = 0
        while index + 1 < scalars.count {
            guard normalizedAlphanumeric(scalars[index]) == "R",
                  normalizedAlphanumeric(scalars[index + 1]) == "F",
                  index == 0 || normalizedAlphanumeric(scalars[index - 1]) == nil
            else {
                index += 1
                continue
            }
            let (readings, end) = readings(startingAt: index, in: scalars)
            for reading in readings where !found.contains(reading) { found.append(reading) }
            index = readings.isEmpty ? index + 2 : end
        }
        return found
    }

    /// The valid readings starting at `start`, longest first, and the scalar index just after the longest.
    private static func readings(startingAt start: Int, in scalars: [Unicode.Scalar]) -> ([PaymentReference], Int) {
        let longest = 4 + maximumBodyLength
        var compact = String.UnicodeScalarView()
        var breaks: [(length: Int, end: Int)] = []
        var position = start
        while position < scalars.count, compact.count <= longest {
            let scalar = scalars[position]
            if let normalized = normalizedAlphanumeric(scalar) {
                compact.append(normalized)
                position += 1
            } else if isSeparator(scalar) {
                if breaks.last?.length != compact.count { breaks.append((compact.count, position)) }
                position += 1
            } else {
                break
            }
        }
        if compact.count <= longest, breaks.last?.length != compact.count { breaks.append((compact.count, position)) }
        let text = String(compact)
        var readings: [PaymentReference] = []
        var end = start
        for cut in breaks.reversed() where cut.length >= 5 && cut.length <= longest {
            guard let reference = try? PaymentReference(String(text.prefix(cut.length))) else { continue }
            if readings.isEmpty { end = cut.end }
            readings.append(reference)
        }
        return (readings, end)
    }
}
