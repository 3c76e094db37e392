#!/usr/bin/env bash
# Regenerates the prompts of the self-service menu and the meter-readings dialogue, and
# self_service.md beside them, in the same format and voice as make_prompts.sh: RIFF WAV,
# 8000 Hz, mono, 16-bit signed PCM, espeak-ng's Russian voice, silence trimmed to 150 ms at
# either end, normalised to -3 dBFS. Kept apart from make_prompts.sh so that the queue's
# prompts are not rewritten by a newer synthesizer when only these change.
#
# Requires: espeak-ng, sox.   Usage: ./make_self_service_prompts.sh   (from any directory)
set -euo pipefail

cd "$(dirname "$0")"

for tool in espeak-ng sox soxi; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

VOICE="ru"
SPEED=140
OUT_FORMAT=(-r 8000 -c 1 -b 16 -e signed-integer)
SOX=(sox -D -R -V2)
rows=()

speak() {
    local name="$1" text="$2"
    espeak-ng -v "$VOICE" -s "$SPEED" -w "$work/$name.raw.wav" "$text"
    "${SOX[@]}" "$work/$name.raw.wav" "${OUT_FORMAT[@]}" "$name.wav" \
        silence 1 0.05 0.5% reverse silence 1 0.05 0.5% reverse \
        gain -6 highpass 120 rate -v 8000 norm -3 pad 0.15 0.15
    rows+=("$name.wav|$text")
}

speak menu "Чтобы передать показания счётчиков воды, нажмите 1. По вопросам оплаты — 2. Договоры — 3. Подключение к сетям — 4. Задолженность — 5. Чтобы поговорить с оператором, нажмите 0."
speak menu_retry "Не удалось распознать выбор."
speak to_operator "Соединяю с оператором."
speak enter_account "Введите номер лицевого счёта и нажмите решётку."
speak unknown_account "Лицевой счёт не найден."
speak meter_cold "Счётчик холодной воды."
speak meter_hot "Счётчик горячей воды."
speak meter_number "Номер счётчика"
speak enter_reading "Введите показания в кубометрах и нажмите решётку."
speak you_entered "Вы ввели"
speak confirm_reading "Если верно, нажмите 1. Чтобы ввести заново, нажмите 2."
speak reading_too_low "Показания меньше предыдущих. Проверьте и введите ещё раз."
speak reading_too_high "Показания больше допустимого расхода за месяц. Проверьте и введите ещё раз."
speak reading_saved "Показания приняты."
speak readings_done "Спасибо, все показания приняты. До свидания."
speak no_input "Вы ничего не ввели."

digits=(ноль один два три четыре пять шесть семь восемь девять)
for i in "${!digits[@]}"; do
    speak "digit_$i" "${digits[$i]}"
done

{
    echo "# Self-service prompts"
    echo
    echo "The menu and the meter-readings dialogue; made by \`make_self_service_prompts.sh\`"
    echo "(same format as the rest: 8000 Hz, mono, 16-bit). Each is built into the binary and"
    echo "replaced by a file of the same name in the prompts directory."
    echo
    echo "| File | Duration, s | Text |"
    echo "|------|------------:|------|"
    for row in "${rows[@]}"; do
        printf '| `%s` | %.2f | %s |\n' "${row%%|*}" "$(soxi -D "${row%%|*}")" "${row#*|}"
    done
} >self_service.md

echo "$0: wrote ${#rows[@]} files and self_service.md"
