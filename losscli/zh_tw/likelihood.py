"""Traditional Chinese texts of the regression and likelihood losses (losscli/losses/regression.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "mse": {
        "summary": "均方誤差",
        "derivative": "∂L/∂pᵢ = 2 (pᵢ - yᵢ) / N",
        "convention": "torch.nn.MSELoss（= Keras MeanSquaredError、optax squared_error）",
        "differs": "optax l2_loss 與許多教科書會在前面加上 ½ 的係數：½(p - y)²。",
        "when": "高斯雜訊，且大誤差應付出平方級更高的代價時；離群值會主導此損失。",
    },
    "rmse": {
        "summary": "均方根誤差",
        "derivative": "∂L/∂pᵢ = (pᵢ - yᵢ) / (N · L)；當每個殘差都是 0 時未定義（NaN）",
        "convention": "torch MSELoss 的平方根；scikit-learn root_mean_squared_error",
        "differs": "Keras 只把 RMSE 當作評估指標（metric）。--reduction sum 給出 √Σr²（殘差的 L2 範數）；"
        "--reduction none 給出逐元素的 |r|。",
        "when": "以目標值單位表示的 MSE，用於回報結果；其梯度是 MSE 的梯度乘以 1/(2L)。",
    },
    "mae": {
        "summary": "平均絕對誤差",
        "derivative": "∂L/∂pᵢ = sign(pᵢ - yᵢ) / N，殘差為零時為 0（torch：sign(0) = 0）",
        "convention": "torch.nn.L1Loss（= Keras MeanAbsoluteError、scikit-learn mean_absolute_error）",
        "differs": "0 處的次梯度：torch 使用 sign(0) = 0；jax.grad(jnp.abs)(0.) 為 1；教科書允許 [-1, 1] 中的任意值。",
        "when": "拉普拉斯雜訊，或你不希望其主導損失的離群值；得到的是中位數。",
    },
    "huber": {
        "summary": "Huber 損失：在 0 附近為二次，超過 delta 後為線性",
        "derivative": "若 |r| < δ，∂ℓ/∂p = r；否則為 δ · sign(r)",
        "convention": "torch.nn.HuberLoss(delta=1.0)（= Keras Huber、optax huber_loss）",
        "differs": "SmoothL1Loss(beta) = HuberLoss(delta=beta) / beta；兩者只在 1 時一致。",
        "when": "有離群值的迴歸：靠近目標時如同 MSE，遠離目標時如同 MAE；梯度以 δ 為界。",
    },
    "smooth-l1": {
        "summary": "smooth L1 損失（Huber 除以 beta）",
        "derivative": "若 |r| < β，∂ℓ/∂p = r / β；否則為 sign(r)",
        "convention": "torch.nn.SmoothL1Loss(beta=1.0)",
        "differs": "只有在 β = δ = 1 時才等於 Huber；其線性部分的斜率恆為 1（Huber 的斜率為 δ）。",
        "when": "邊界框迴歸（Fast R-CNN）；與 Huber 類似，但外側斜率為 1。",
    },
    "log-cosh": {
        "summary": "誤差之雙曲餘弦的對數",
        "derivative": "∂ℓ/∂p = tanh(r)",
        "convention": "Keras LogCosh / optax log_cosh（穩定形式；不會發生 log(cosh) 溢位）",
        "differs": "直接計算 log(cosh(r)) 時，在 float64 下 |r| > ~710、在 float32 下 ~89 就會溢位成 inf。",
        "when": "平滑版的 Huber：r 小時 ≈ r²/2，r 大時 ≈ |r| - log 2；二次可微。",
    },
    "quantile": {
        "summary": "分位數（pinball）損失",
        "derivative": "若 y > p，∂ℓ/∂p = -q；若 y < p，則為 (1 - q)；在 y = p 處則是 torch 對 max 所選的次梯度",
        "convention": "scikit-learn mean_pinball_loss(alpha=q)",
        "differs": "q = 0.5 時等於 MAE / 2。有些函式庫（TF Addons）把此參數稱為 tau。",
        "when": "預測某個分位數（例如以 q = 0.9 取得上界）而非平均值。",
    },
    "msle": {
        "summary": "均方對數誤差",
        "derivative": "當 p > ε 時，∂ℓ/∂p = 2 (log(1 + p) - log(1 + y)) / (1 + p)；低於 ε 時為 0（已截斷）",
        "convention": "Keras MeanSquaredLogarithmicError（低於 ε = 1e-7 的值視為 ε）",
        "differs": "scikit-learn mean_squared_log_error 遇到負值會直接拒絕，而不是截斷；torch 沒有 MSLE。"
        "Keras 先沿最後一軸取平均，對等長的列而言結果相同。",
        "when": "目標值跨越多個數量級（計數、價格）而相對誤差才重要時；低估的代價高於高估。",
    },
}
