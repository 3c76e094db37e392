//! The topics a call may have: set by the caller in the phone menu, or by QA in the
//! console. One list for both, so that a menu choice and a QA's topic mean the same thing
//! in searches and statistics.

/// Every topic by its stored name, with the label the console shows.
/// The topic of the meter-readings dialogue (the menu key that starts it).
pub const METER_READINGS: &str = "meter_readings";

pub const TOPICS: &[(&str, &str)] = &[
    ("billing", "Начисления и оплата"),
    ("meter_readings", "Показания счётчиков"),
    ("contract", "Договор"),
    ("connection", "Техническое подключение"),
    ("debt", "Задолженность"),
    ("referred", "Переадресован в другой отдел"),
    ("other", "Другое"),
];

/// Whether `name` is one of [`TOPICS`].
pub fn is_topic(name: &str) -> bool {
    TOPICS.iter().any(|(n, _)| *n == name)
}
