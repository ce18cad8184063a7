-- How the extmark renderer shows and applies given items, in a real headless Neovim, against
-- tests/editors/scripted_server.py (fixed answers, no model):
--
--   nvim -l editor-clients/neovim/tests/scripted.lua
--
-- Items whose range starts before the cursor (a dedent at an auto-indented blank line) and
-- multi-line items at the start of a line with code after the cursor (a line opened above
-- it). Checks what is on the screen (screenstring) and in the buffer. Prints one line per test
-- and "nvim-scripted: N passed, M failed".
local here = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p'))
local plugin = vim.fs.dirname(here)
local repo = vim.fs.dirname(vim.fs.dirname(plugin))
local server = repo .. '/tests/editors/scripted_server.py'

local rpc = dofile(here .. '/rpc.lua')
local say = rpc.logger('nvim-scripted')

local scratch = vim.fn.tempname()
vim.fn.mkdir(scratch .. '/proj', 'p')
local rules = scratch .. '/rules.json'
-- Cursor line text before/after the cursor -> the items the server answers with.
vim.fn.writefile({
  vim.json.encode({
    -- An auto-indented blank line after a loop body: `return result` one level left.
    { before = '^ {8}$', after = '^$', items = { { insertText = 'return result', replace = 4 } } },
    -- The start of an existing line: a line opened above it, ending with its indentation.
    { before = '^ {4}$', after = '^return', items = { { insertText = 'result = sum(xs)\n    ' } } },
    -- A menu item (textDocument/completion), shaped by lsp_server/items.py as fim-lsp's are.
    { before = '^    if pre$', menu = { { text = 'processor:\n        pass' } } },
    -- Right after a closing bracket, which the matchparen plugin highlights.
    { before = 'tokenize\\(text\\)$', after = '^$', items = { { insertText = '  # Tokenize the text' } } },
  }),
}, rules)

local child = rpc.child(plugin, here .. '/child_init.lua', {
  FIM_LSP_SERVER = server,
  FIM_LSP_SCRIPT = rules,
  XDG_CONFIG_HOME = scratch .. '/config',
  XDG_DATA_HOME = scratch .. '/data',
  XDG_STATE_HOME = scratch .. '/state',
}, scratch .. '/proj')
say('Neovim %s, scripted server %s', tostring(vim.version()), server)

local lua, input, lines = child.lua, child.input, child.lines
local wait_for, eq = rpc.wait_for, rpc.eq

local screen, cursor = child.screen, child.cursor
local function ghost_shown()
  return lua("return #vim.api.nvim_buf_get_extmarks(0, require('fim_lsp.ghost').ns, 0, -1, {}) > 0")
end

local LOOP = { 'def total(xs):', '    result = 0', '    for x in xs:', '        result += x', '        ' }
local OPENED = { 'def total(xs):', '    return result' }

--- A fresh buffer holding `content`, insert mode at (row, col) (1-based row, 0-based col).
local function start(content, row, col)
  input('<Esc>')
  wait_for('normal mode', 2000, function()
    return lua('return vim.api.nvim_get_mode().mode') == 'n' or nil
  end)
  child.command('silent! %bwipeout!')
  child.command('edit ' .. scratch .. '/proj/total.py')
  lua('vim.api.nvim_buf_set_lines(0, 0, -1, false, ...)', content)
  wait_for('the fim_lsp client', 10000, function()
    return lua("return #vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' }) == 1") or nil
  end)
  lua('vim.api.nvim_win_set_cursor(0, { ... })', row, 0)
  input(col == #content[row] and 'A' or (col == 0 and 'i' or (col .. 'li')))
  wait_for('insert mode at the column', 2000, function()
    local pos = cursor()
    return lua('return vim.api.nvim_get_mode().mode') == 'i' and pos[1] == row and pos[2] == col or nil
  end)
end

--- Asks for a suggestion (the trigger key) and waits for the screen to show `want` from row 1.
local function trigger_and_see(want)
  input('<M-\\>')
  local rows
  local ok = vim.wait(10000, function()
    rows = screen(#want)
    return vim.deep_equal(rows, want)
  end, 20)
  if not ok then
    error(('the screen never showed %s; last: %s'):format(vim.inspect(want), vim.inspect(rows)), 2)
  end
end

local test, counts = rpc.suite(say)

-- The line as it will read once the dedent is accepted, drawn over the auto-indentation.
local DEDENT_SCREEN = { LOOP[1], LOOP[2], LOOP[3], LOOP[4], '    return result' }
local DEDENTED = { LOOP[1], LOOP[2], LOOP[3], LOOP[4], '    return result' }

test('a dedent shows at its own column; <Tab> replaces the indentation', function()
  start(LOOP, 5, 8)
  trigger_and_see(DEDENT_SCREEN)
  eq(LOOP, lines(), 'ghost text is not buffer text')
  eq('return result', lua("return require('fim_lsp').visible()"), 'visible()')
  input('<Tab>')
  wait_for('the dedented line', 2000, function()
    return vim.deep_equal(lines(), DEDENTED) or nil
  end)
  eq({ 5, #'    return result' }, cursor(), 'the cursor after the inserted text')
  eq(false, ghost_shown(), 'no ghost left')
end)

test('accept word applies the dedent with the first word; accept line the rest', function()
  start(LOOP, 5, 8)
  trigger_and_see(DEDENT_SCREEN)
  input('<M-Right>')
  wait_for('the first word, dedented', 2000, function()
    return lines()[5] == '    return' or nil
  end)
  eq({ 5, #'    return' }, cursor(), 'the cursor after the word')
  eq(DEDENT_SCREEN, screen(5), 'the rest still shown')
  input('<M-Down>')
  wait_for('the whole line', 2000, function()
    return vim.deep_equal(lines(), DEDENTED) or nil
  end)
end)

test('other indentation typed drops a dedent; typing its text keeps it', function()
  start(LOOP, 5, 8)
  trigger_and_see(DEDENT_SCREEN)
  -- A long debounce, so that no new request redraws anything meanwhile.
  lua('require("fim_lsp").config.ghost_text.debounce_ms = 600000')
  input(' ')
  wait_for('the ghost dropped', 2000, function()
    return lines()[5] == '         ' and not ghost_shown() or nil
  end)
  input('<BS>')
  wait_for('the blank line back', 2000, function()
    return lines()[5] == '        ' or nil
  end)
  trigger_and_see(DEDENT_SCREEN)
  input('re')
  wait_for('the typed text in the buffer', 2000, function()
    return lines()[5] == '        re' or nil
  end)
  eq(DEDENT_SCREEN, screen(5), 'the dedent still shown over the typed text')
  eq('turn result', lua("return require('fim_lsp').visible()"), 'visible() after typing')
  input('<Tab>')
  wait_for('the dedented line', 2000, function()
    return vim.deep_equal(lines(), DEDENTED) or nil
  end)
  lua('require("fim_lsp").config.ghost_text.debounce_ms = 100')
end)

test('deleting the indentation a dedent removes keeps it, as plain ghost text', function()
  start(LOOP, 5, 8)
  trigger_and_see(DEDENT_SCREEN)
  lua('require("fim_lsp").config.ghost_text.debounce_ms = 600000')
  eq(4, lua('return vim.bo.softtabstop'), "softtabstop from Neovim's python ftplugin")
  input('<BS>')
  wait_for('the indentation back to 4', 2000, function()
    return lines()[5] == '    ' or nil
  end)
  eq(DEDENT_SCREEN, screen(5), 'the ghost at the cursor now')
  input('<Tab>')
  wait_for('the line', 2000, function()
    return vim.deep_equal(lines(), DEDENTED) or nil
  end)
  lua('require("fim_lsp").config.ghost_text.debounce_ms = 100')
end)

-- A line opened above `return result`: the ghost line, then the code line as it will read.
local OPENED_SCREEN = { OPENED[1], '    result = sum(xs)', '    return result' }
local WITH_LINE = { OPENED[1], '    result = sum(xs)', '    return result' }

test('a line opened above code shows above it; <Tab> inserts it', function()
  start(OPENED, 2, 4)
  trigger_and_see(OPENED_SCREEN)
  eq(OPENED, lines(), 'ghost text is not buffer text')
  input('<Tab>')
  wait_for('the new line above the code', 2000, function()
    return vim.deep_equal(lines(), WITH_LINE) or nil
  end)
  eq({ 3, 4 }, cursor(), 'the cursor after the inserted text, before the code')
end)

test('accept line on a line opened above code takes the line break too', function()
  start(OPENED, 2, 4)
  trigger_and_see(OPENED_SCREEN)
  input('<M-Down>')
  wait_for('the new line above the code', 2000, function()
    return vim.deep_equal(lines(), WITH_LINE) or nil
  end)
end)

test('ghost text after a closing bracket keeps its own colours, not MatchParen', function()
  local code = { 'def run(text):', '    tokens = tokenize(text)' }
  start(code, 2, #code[2])
  trigger_and_see({ code[1], code[2] .. '  # Tokenize the text' })
  eq(2, lua('return vim.fn.exists(":DoMatchParen")'), 'the matchparen plugin is loaded')
  -- Attribute ids of the drawn cells (screenattr): the ghost text's must be those of text drawn
  -- with FimLspGhostText alone (a reference mark on line 1), not combined with matchparen's.
  local got = lua([[
    local row, col = ...
    local ns = vim.api.nvim_create_namespace('fim_lsp_test_reference')
    vim.api.nvim_buf_set_extmark(0, ns, 0, 0, {
      virt_text = { { 'ref', 'FimLspGhostText' } }, virt_text_pos = 'eol', hl_mode = 'replace' })
    vim.cmd('redraw')
    local ref_col = #vim.api.nvim_buf_get_lines(0, 0, 1, false)[1] + 2 -- eol text after one space
    local out = { ref = vim.fn.screenstring(1, ref_col) .. ':' .. vim.fn.screenattr(1, ref_col),
                  paren = vim.fn.screenattr(row, col), plain = vim.fn.screenattr(row, col - 1), ghost = {} }
    for c = col + 1, col + 5 do
      out.ghost[#out.ghost + 1] = vim.fn.screenstring(row, c) .. ':' .. vim.fn.screenattr(row, c)
    end
    vim.api.nvim_buf_clear_namespace(0, ns, 0, -1)
    return out
  ]], 2, #code[2])
  say('screen attributes: %s', vim.inspect(got))
  if got.paren == got.plain then
    error('matchparen does not mark the bracket: ' .. vim.inspect(got))
  end
  local attr = got.ref:match(':(%d+)$')
  eq('r', got.ref:sub(1, 1), 'the reference text')
  eq({ ' :' .. attr, ' :' .. attr, '#:' .. attr, ' :' .. attr, 'T:' .. attr }, got.ghost,
    'ghost cells drawn with FimLspGhostText alone')
end)

test("default completeopt: <C-x><C-o> shows the lone item in a menu; <C-y> inserts all of it", function()
  -- Neovim's default 'completeopt' has no "menuone": the lone item went in at once as its first
  -- line, and <C-y> then added the rest plus the character above the cursor (issue 24).
  local code = { 'def run(preprocessor):', '    if pre' }
  local completeopt = lua('local old = vim.go.completeopt; vim.go.completeopt = "menu,popup"; return old')
  start(code, 2, #code[2])
  eq('menu,popup,menuone', lua('return vim.bo.completeopt'), "the buffer's completeopt")
  lua('require("fim_lsp").config.ghost_text.debounce_ms = 600000')
  input('<C-x><C-o>')
  local shown = pcall(wait_for, 'the menu', 5000, function()
    return lua('return vim.fn.pumvisible() == 1') or nil
  end)
  input('<C-y>')
  local whole = { code[1], '    if preprocessor:', '        pass' }
  pcall(wait_for, 'the whole suggestion', 3000, function()
    return vim.deep_equal(lines(), whole) or nil
  end)
  lua('vim.go.completeopt = ...', completeopt)
  lua('require("fim_lsp").config.ghost_text.debounce_ms = 100')
  eq(true, shown, 'the item shown in a menu')
  eq(whole, lines(), '<C-y> inserts all of its lines, nothing else')
end)

test('the cursor resting in Normal mode is reported (fimLsp/cursor); typing in Insert mode is not', function()
  local function cursors()
    return lua([[
      local client = vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' })[1]
      local reply = client and client.request_sync('scripted/cursors', {}, 2000, 0)
      return reply and reply.result or {}
    ]])
  end
  start(LOOP, 4, 0)
  input('<Esc>')
  local before = #cursors()
  input('gg2jw') -- row 3, the `for` after its indentation, in Normal mode
  local seen = wait_for('a cursor report at the motion', 5000, function()
    local all = cursors()
    local last = all[#all]
    return #all > before and last.position.line == 2 and last.position.character == 4 and all or nil
  end)
  eq(true, vim.endswith(seen[#seen].textDocument.uri, '/proj/total.py'), 'the buffer reported')
  local count = #seen
  input('A x')
  vim.wait(800)
  input('<Esc>')
  eq(count, #cursors(), 'nothing reported while typing')
end)

local passed, failed = counts()
child.quit(10000)
vim.fn.delete(scratch, 'rf')
io.stdout:write(('nvim-scripted: %d passed, %d failed\n'):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
