"""Traditional Chinese texts of the losses (summary, derivative, convention, differs, when):
the regularisers here, every other family in its module of losscli/zh_tw, merged below.
Formulas are shared with English.  tests/test_i18n.py checks that every registered loss has
all five fields."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    # -------------------------------------------------------------- regularization
    "l1": {
        "summary": "L1 權重懲罰：|w| 的總和",
        "derivative": "∂R/∂wᵢ = sign(wᵢ)，在 wᵢ = 0 處為 0（torch：sign(0) = 0）",
        "convention": "Keras regularizers.L1，取 l1 = 1（係數寫在運算式中：1e-4*l1）",
        "differs": "Keras 把係數併入其中（L1(0.01) = 0.01 Σ|w|）；torch 沒有內建的 L1 懲罰。",
        "when": "透過 --input weights=FILE 加到資料損失上，把參數推向恰好為零（稀疏性）。",
    },
    "l2": {
        "summary": "L2 權重懲罰：w² 的總和",
        "derivative": "∂R/∂wᵢ = 2 wᵢ",
        "convention": "Keras regularizers.L2，取 l2 = 1（係數寫在運算式中：0.01*l2）",
        "differs": "optax l2_loss 與 SGD 權重衰減使用 ½ Σ w²（見 l2-half）：λ·l2 = 2λ·l2-half。"
        "這與別名 l2-loss 不同，後者指的是 MSE。",
        "when": "透過 --input weights=FILE 加到資料損失上，讓參數保持很小（ridge、權重衰減）。",
    },
    "l2-half": {
        "summary": "半 L2 權重懲罰：w² 的總和 / 2",
        "derivative": "∂R/∂wᵢ = wᵢ",
        "convention": "optax.l2_loss(w) 加總（= ½‖w‖²，即梯度為 SGD 權重衰減 λw 的懲罰項）",
        "differs": "Keras L2 沒有 ½：l2 = 2 · l2-half。",
        "when": "寫成損失形式的權重衰減：λ·l2-half 恰好在每個參數的梯度上加上 λw。",
    },
}


def _merge() -> None:
    """Add the per-group modules of losscli/zh_tw; a loss named twice is a mistake."""
    from losscli.zh_tw import classification, generative, likelihood, llm, margin, ranking, vision

    for part in (likelihood, classification, margin, ranking, vision, generative, llm):
        for name, texts in part.LOSS_TEXTS.items():
            if name in LOSS_TEXTS:
                raise ValueError(f"zh-TW texts for {name!r} given twice")
            LOSS_TEXTS[name] = texts


_merge()
