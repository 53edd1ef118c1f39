"""Traditional Chinese texts of the fused LLM-head loss (losscli/losses/llm.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "linear-cross-entropy": {
        "summary": "融合的 LLM 輸出層損失：hidden @ Wᵀ 的交叉熵，按列分塊計算（不存 N x V 的 logits）",
        "derivative": "∂ℓᵢ/∂zᵢ = g_i = (1 - ε) w_y (softmax(zᵢ) - e_y) + (ε/V)(softmax(zᵢ) Σw - w)；"
        "∂ℓ/∂H = G W，∂ℓ/∂W = Gᵀ H（G 為各列 g_i，逐塊累加）；被忽略的列為 0",
        "convention": "torch 2.13 的 torch.nn.functional.linear_cross_entropy(hidden, linear_weight, targets, weight, "
        "reduction, ignore_index=-100, label_smoothing=0)（= cross_entropy(linear(h, W), y)）；"
        "chunk_rows 相當於 LinearCrossEntropyOptions(batch_chunk_size=...)",
        "differs": "torch 的分塊路徑（options=LinearCrossEntropyOptions(...)）不接受 label smoothing，"
        "會發出警告並改用未融合的參考實作（losscli 仍會分塊）；torch 預設 options=None 不融合，"
        "LinearCrossEntropyOptions() 則自行決定塊大小（chunking_method 'aspect_ratio:2'）。"
        "Liger 的 LigerFusedLinearCrossEntropyLoss 與 Apple 的 cut-cross-entropy（linear_cross_entropy(e, c, targets)）"
        "以融合的 GPU 核心算出相同的值（cut-cross-entropy 預設 ignore_index 也是 -100；Liger 另有 z-loss 與 softcapping 選項）。"
        "這裡沒有可選的偏差項（torch 的 linear_bias）。所有目標都被忽略時 torch 的平均值是 NaN：此時 losscli 拒絕 --reduction mean，而 sum/none 與 torch 相同，得到 0。",
        "when": "訓練詞彙量很大的語言模型：輸出層 N x V 的 logits 佔去大部分記憶體；分塊後一次只存 chunk_rows x V。",
    },
}
