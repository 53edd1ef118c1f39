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
    "poisson-nll": {
        "summary": "計數的 Poisson 負對數概似",
        "derivative": "∂ℓ/∂p = exp(p) - y（log_input=true），1 - y/(p + eps)（log_input=false）；Stirling 項與 p 無關",
        "convention": "torch.nn.PoissonNLLLoss(log_input=True, full=False, eps=1e-8)：Stirling 項只加在 y > 1 之處，"
        "與 torch 的 masked_fill(target <= 1, 0) 相同",
        "differs": "Keras Poisson 接受速率並沿最後一軸計算 mean(p - y·log(p + 1e-7))，即 log_input=false 且 eps=1e-7；"
        "精確的 log(y!)（scipy.special.gammaln(y + 1)）與 Stirling 項不同，計數越小差得越多；"
        "torch 的 --reduction none 與 sum 都是逐元素的。",
        "when": "以 Poisson 速率建模的計數目標（每段時間的事件數、點擊、光子）；預測對數速率（log_input=true），"
        "讓 exp 保證速率為正。",
    },
    "gaussian-nll": {
        "summary": "帶預測變異數的高斯負對數概似",
        "derivative": "∂ℓ/∂p = (p - y)/v̂；∂ℓ/∂v = ½ (1/v̂ - (p - y)²/v̂²)，其中 v̂ = max(v, eps)，低於 eps 時亦然"
        "（torch 在 no_grad 下截斷）；共用的變異數會把其所有元素的梯度加總",
        "convention": "torch.nn.GaussianNLLLoss(full=False, eps=1e-6)：位置參數檔案依 torch 的順序為 preds、targets、var"
        "（input, target, var）；var 依 torch 的規則廣播",
        "differs": "torch.distributions.Normal(p, v.sqrt()).log_prob(y) 是 full=true 且不截斷時損失的相反數；"
        "Keras 沒有高斯 NLL；--reduction mean 與 torch 相同，除以 preds 的元素個數。",
        "when": "同時預測自身不確定性的迴歸（異方差雜訊）：變異數輸出會學到每個目標通常離平均值多遠。",
    },
    "mape": {
        "summary": "平均絕對百分比誤差",
        "derivative": "∂ℓ/∂p = 100 · sign(p - y) / max(|y|, ε)",
        "convention": "Keras MeanAbsolutePercentageError（100 · |(y - p)/max(|y|, ε)|，ε = keras.backend.epsilon() "
        "= 1e-7）",
        "differs": "scikit-learn mean_absolute_percentage_error 沒有 100 這個係數，且使用 ε = 2.2e-16"
        "（numpy float64 的 eps），因此在 |y| < 1e-7 處兩者不同；Keras 的 reduction=None 與 'sum' 是逐樣本的"
        "（先沿最後一軸取平均），losscli 的 none 與 sum 則是逐元素；torch 沒有 MAPE。",
        "when": "在目標值明顯遠離 0 時回報相對誤差；在 y = 0 附近會爆掉，且對高估的懲罰比低估重。",
    },
    "tweedie": {
        "summary": "Tweedie 偏差（平方誤差、Poisson、Gamma 及其間）",
        "derivative": "對每個 power 都有 ∂ℓ/∂μ = 2 μ^(-ρ) (μ - y)",
        "convention": "scikit-learn mean_tweedie_deviance(power=ρ)（預設 power=0，與 scikit-learn 相同）：依 power 採用其公式與定義域檢查"
        "（ρ < 0：μ > 0；1 <= ρ < 2：y >= 0、μ > 0；ρ >= 2：y > 0、μ > 0）",
        "differs": "scikit-learn 拒絕多輸出資料（N x D）；losscli 逐元素處理。PyTorch 與 Keras 都沒有；"
        "LightGBM 與 XGBoost 的 tweedie 目標是以 log 為連結函數的負對數概似：只差只含 y 的項時為偏差的一半，且對 log μ 微分。",
        "when": "含有恰好為零的值且尾部偏斜的非負目標（保險理賠、降雨量、銷售）：1 < power < 2 是複合 Poisson-Gamma 模型。",
    },
    "cosine-similarity": {
        "summary": "向量的餘弦相似度損失（Keras 的 -cos，或 optax 的 1 - cos）",
        "derivative": "∂ℓ/∂pⱼ = -(ŷⱼ - cos·p̂ⱼ)/‖p‖（範數位於下限時為 -ŷⱼ/‖p‖）",
        "convention": "Keras CosineSimilarity(axis=-1)（form=keras，ε = keras.backend.epsilon() = 1e-7 作用於範數）；"
        "form=optax 時為 optax.cosine_distance(epsilon=0.)（epsilon 作用於範數的平方）",
        "differs": "兩種形式相差常數 1（梯度相同），下限也不同：Keras 把範數截在 1e-7（零向量的 cos 為 0），"
        "optax 把範數平方截在 epsilon = 0（零向量是 0/0，這裡會拒絕）；torch.nn.CosineEmbeddingLoss 使用 1 - cos，"
        "在範數平方的乘積上加 eps 1e-8，且每一對有一個標籤。",
        "when": "比對方向而非長度：嵌入向量迴歸、正規化特徵的蒸餾。",
    },
}
