"""Texts of the ``--explain`` narrative and of ``losscli explain`` in English and
Traditional Chinese (``--lang zh-TW``).

Narrative strings live in ``MESSAGES``; per-loss texts (summary, convention, how others
differ, when to use it) in English come from each loss's spec and in Traditional
Chinese from ``losscli.i18n_zh_tw.LOSS_TEXTS``.  Formulas are shared (they are maths).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

LANGS = ("en", "zh-TW")
LOSS_FIELDS = ("summary", "derivative", "convention", "differs", "when")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "bundled": "Bundled example: {what}. Pass your own files to explain your data.",
        "bundled_loss": "No files given: using the bundled example data for {loss} ({files}).",
        "s1": "1. The loss and its derivative",
        "s2": "2. The autograd graph (from loss.grad_fn down to the leaves)",
        "s2_note": "Each node is a backward function torch recorded in the forward pass; backward() walks "
        "this graph from the top, multiplying local derivatives, and AccumulateGrad adds the "
        "result into the leaf's .grad.",
        "s3": "3. One element by hand: {input}[{index}]",
        "s3_why": "Chosen because it has the largest |gradient| (pick another with --element ROW[,COL]).",
        "forward": "forward values",
        "local": "local derivatives along the chain rule",
        "product": "product of the local derivatives",
        "path_sum": "sum over the paths from the loss to this element",
        "backprop": "the element reaches the loss by several paths, so the backward pass above adds "
        "each node's uses, from the loss down; its last line is the gradient",
        "backward": "backward pass, node by node",
        "autograd": "autograd's value in .grad",
        "agree": "difference {diff:.3g}: they agree",
        "disagree": "difference {diff:.3g}: they DISAGREE",
        "no_chain": "No hand derivation is written for {loss}; the finite-difference check below "
        "verifies autograd's value instead.",
        "s4": "4. Finite-difference check of that element",
        "fd": "central difference (L(x+h) - L(x-h)) / 2h with h = {h:.1e}: {fd:.12g}; relative error {err:.2e}",
        "fd_none": "no finite-difference check here: x = {x:.6g} sits on the edge of the loss's domain, so "
        "x ± h leaves it (at a probability of exactly 0 or 1 torch's gradient is a convention, "
        "not a derivative)",
        "fd_good": "below 1e-7: autograd's gradient is right",
        "fd_ok": "between 1e-7 and 1e-2: acceptable near a kink or with float32, suspicious otherwise",
        "fd_bad": "above 1e-2: the gradient is wrong here (or the loss is not differentiable at this point)",
        "fd_by_design": "not expected to agree: this loss's gradient is, by its library's convention, not the "
        "derivative of its value (see its convention); the hand derivation above is the check",
        "s5": "5. Gradient health, in plain words",
        "s6": "6. Gradients accumulate in .grad",
        "accum": "backward() adds into .grad; it does not overwrite it. After a second backward() without "
        "zeroing, {input}[{index}] went from {first:.12g} to {second:.12g} (x{ratio:.6g}).",
        "accum_zero": "backward() adds into .grad; it does not overwrite it. {input}[{index}] has a zero "
        "gradient, so a second backward() leaves it at 0; every non-zero element doubled.",
        "loop": "That is why a training loop zeroes gradients before each backward pass:",
        "status_ok": "Status ok: the per-sample gradient RMS is {rms:.3g}, inside [{lo:g}, {hi:g}].",
        "status_vanishing": "Status vanishing: the per-sample gradient RMS is {rms:.3g}, below {lo:g}; "
        "updates will barely move the model.",
        "status_exploding": "Status exploding: the per-sample gradient RMS is {rms:.3g}, above {hi:g}; "
        "one step of gradient descent would overshoot.",
        "status_nonfinite": "Status nonfinite: {count} gradient element(s) are NaN or infinite; one such "
        "element poisons every weight it reaches.",
        "scale_note": "With reduction=mean every gradient carries a 1/{scale:g} factor: the raw L2 norm "
        "{norm:.3g} looks small only because of the mean. Per sample (x{scale:g}) the figures "
        "above are what matters, and they do not change with the number of rows.",
        "finding": "{kind}: {count} element(s) ({fraction:.1%}). {message}",
        "remedies": "What to do",
        "finding_nonfinite": "gradient is NaN or ±inf",
        "finding_dead": "gradient exactly 0: these elements teach the model nothing (a zero residual under MAE, "
        "a met hinge margin, a clamp, an ignored target)",
        "finding_saturated": "input at or next to 0/1 (probabilities) or past the point where the "
        "sigmoid/softmax rounds to 0/1 (logits)",
        "finding_underflow": "gradient is 0 in float32 but not in float64: it underflowed",
        "lbl_family": "family: {family}",
        "lbl_aliases": "; aliases: {aliases}",
        "lbl_formula": "formula:     {text}",
        "lbl_derivative": "derivative:  {text}",
        "lbl_reduction": "reduction:   loss is computed {element}; --reduction mean is the {mean}",
        "lbl_inputs": "inputs (in order):",
        "lbl_no_gradient": " (no gradient)",
        "lbl_optional": " (optional)",
        "lbl_params": "parameters (-p name=value):",
        "lbl_no_params": "parameters: none",
        "lbl_default": "default",
        "lbl_convention": "convention:  {text}",
        "lbl_others": "others:      {text}",
        "lbl_use": "use it for:  {text}",
        "lbl_sample_weights": "sample weights (--sample-weights): weighted mean Σ sᵢℓᵢ / Σ sᵢ; Keras divides "
        "by the batch size instead.",
    },
    "zh-TW": {
        "bundled": "內建範例：{what}。傳入你自己的檔案即可解說你的資料。",
        "bundled_loss": "未提供檔案：使用 {loss} 的內建範例資料（{files}）。",
        "s1": "1. 損失函數與其導數",
        "s2": "2. 自動微分計算圖（從 loss.grad_fn 往下走到葉節點）",
        "s2_note": "每個節點是 torch 在前向計算時記錄的反向函數；backward() 從最上層開始走訪此圖，"
        "逐步相乘局部導數，最後由 AccumulateGrad 把結果累加到葉節點的 .grad。",
        "s3": "3. 手算一個元素：{input}[{index}]",
        "s3_why": "選它是因為它的梯度絕對值最大（可用 --element ROW[,COL] 指定其他元素）。",
        "forward": "前向計算的值",
        "local": "連鎖律上的局部導數",
        "product": "局部導數的乘積",
        "path_sum": "從損失到此元素各條路徑的貢獻總和",
        "backprop": "此元素經由多條路徑影響損失，因此上面的反向傳播從損失往下、逐一加總每個節點的各個用途；最後一行就是梯度",
        "backward": "反向傳播，逐個節點",
        "autograd": "自動微分放在 .grad 的值",
        "agree": "差異 {diff:.3g}：兩者一致",
        "disagree": "差異 {diff:.3g}：兩者不一致",
        "no_chain": "{loss} 沒有寫好的手算推導；下方的有限差分檢查會改為驗證自動微分的值。",
        "s4": "4. 該元素的有限差分檢查",
        "fd": "中央差分 (L(x+h) - L(x-h)) / 2h，h = {h:.1e}：{fd:.12g}；相對誤差 {err:.2e}",
        "fd_none": "此處無法做有限差分檢查：x = {x:.6g} 位於損失定義域的邊界，x ± h 會超出定義域"
        "（機率恰為 0 或 1 時，torch 的梯度是一種約定，而非導數）",
        "fd_good": "低於 1e-7：自動微分的梯度正確",
        "fd_ok": "介於 1e-7 與 1e-2 之間：在不可微點附近或使用 float32 時可以接受，否則值得懷疑",
        "fd_bad": "高於 1e-2：此處梯度有誤（或損失在此點不可微）",
        "fd_by_design": "此處本來就不會一致：依其函式庫的慣例，這個損失的梯度不是其值的導數（見其慣例說明）；上面的手算推導才是檢查",
        "s5": "5. 梯度健康狀態（白話說明）",
        "s6": "6. 梯度會在 .grad 中累加",
        "accum": "backward() 會把梯度加進 .grad，而不是覆寫。未先歸零就再呼叫一次 backward() 後，"
        "{input}[{index}] 從 {first:.12g} 變成 {second:.12g}（x{ratio:.6g}）。",
        "accum_zero": "backward() 會把梯度加進 .grad，而不是覆寫。{input}[{index}] 的梯度為 0，"
        "所以再呼叫一次 backward() 後仍是 0；所有非零元素都變成兩倍。",
        "loop": "所以訓練迴圈在每次反向傳播前都要先把梯度歸零：",
        "status_ok": "狀態 ok：每樣本梯度的均方根為 {rms:.3g}，落在 [{lo:g}, {hi:g}] 之內。",
        "status_vanishing": "狀態 vanishing（梯度消失）：每樣本梯度的均方根為 {rms:.3g}，低於 {lo:g}；"
        "參數更新幾乎不會移動模型。",
        "status_exploding": "狀態 exploding（梯度爆炸）：每樣本梯度的均方根為 {rms:.3g}，高於 {hi:g}；"
        "一步梯度下降就會衝過頭。",
        "status_nonfinite": "狀態 nonfinite（非有限值）：有 {count} 個梯度元素是 NaN 或無限大；"
        "這樣的元素會污染它所影響的每一個權重。",
        "scale_note": "使用 reduction=mean 時，每個梯度都帶有 1/{scale:g} 的因子：原始 L2 範數 {norm:.3g} "
        "看起來很小只是因為取了平均。請看每樣本（x{scale:g}）的數字，它們不會隨資料列數改變。",
        "finding": "{kind}：{count} 個元素（{fraction:.1%}）。{message}",
        "remedies": "建議做法",
        "finding_nonfinite": "梯度為 NaN 或 ±inf",
        "finding_dead": "梯度恰為 0：這些元素不會教模型任何東西（MAE 的殘差為 0、hinge 已達邊界、被截斷、目標被忽略）",
        "finding_saturated": "輸入位於 0/1 或其附近（機率），或已超過 sigmoid/softmax 捨入為 0/1 的點（logits）",
        "finding_underflow": "梯度在 float32 中為 0，在 float64 中卻不是：發生了下溢",
        "lbl_family": "類別：{family}",
        "lbl_aliases": "；別名：{aliases}",
        "lbl_formula": "公式：      {text}",
        "lbl_derivative": "導數：      {text}",
        "lbl_reduction": "歸約：      損失逐項計算（{element}）；--reduction mean 為 {mean}",
        "lbl_inputs": "輸入（依序）：",
        "lbl_no_gradient": "（無梯度）",
        "lbl_optional": "（選填）",
        "lbl_params": "參數（-p name=value）：",
        "lbl_no_params": "參數：無",
        "lbl_default": "預設",
        "lbl_convention": "依循慣例：  {text}",
        "lbl_others": "其他框架：  {text}",
        "lbl_use": "適用情境：  {text}",
        "lbl_sample_weights": "樣本權重（--sample-weights）：加權平均 Σ sᵢℓᵢ / Σ sᵢ；Keras 則是除以批次大小。",
    },
}


def locale_lang(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for: ``zh-TW`` when the first of LC_ALL, LC_MESSAGES, LANG that
    is set names Traditional Chinese (``zh_TW``, ``zh_TW.UTF-8``, ``zh_Hant``...), else ``en``."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            code = value.split(".")[0].split("@")[0].replace("-", "_").lower()
            return "zh-TW" if code in ("zh_tw", "zh_hant", "zh_hant_tw") else "en"
    return "en"


def check_lang(lang: str | None) -> str:
    """``lang`` if supported (None: the locale's, see :func:`locale_lang`), else a UsageError
    listing the supported ones."""
    from losscli.errors import UsageError

    if lang is None:
        return locale_lang()
    if lang not in LANGS:
        raise UsageError(f"--lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def msg(lang: str, key: str, **kw: Any) -> str:
    """A narrative string in ``lang`` with ``kw`` formatted in."""
    return MESSAGES[lang][key].format(**kw)


def loss_text(spec: Any, field: str, lang: str) -> str:
    """A per-loss text field (summary, derivative, convention, differs, when) in ``lang``."""
    if lang == "en":
        return getattr(spec, field)
    from losscli.i18n_zh_tw import LOSS_TEXTS

    return LOSS_TEXTS.get(spec.name, {}).get(field) or getattr(spec, field)
